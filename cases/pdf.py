"""PDFs from the project's own HTML (letters, reports), through WeasyPrint.

Whatever the HTML holds (subject-provided text is escaped by the templates, but a renderer must
not trust that), WeasyPrint reaches nothing but the project's static files: relative URLs
resolve against ``BASE`` (a name under ``.invalid``, which no resolver answers), the fetcher
serves that prefix from the static files and refuses everything else: no network, no
``file://``, no ``data:`` beyond what WeasyPrint decodes itself, no redirects.

WeasyPrint is imported when a PDF is made: it takes half a second, which every process that
never makes one (the web server's reloads, every management command) need not pay.
"""

from __future__ import annotations

import functools
import mimetypes
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders

BASE = "https://static.dsar.invalid/"


def static_file(url: str) -> tuple[bytes, str]:
    """The content and type of one of the project's static files named by ``url``; ValueError
    for anything else (WeasyPrint then leaves the resource out)."""
    if not url.startswith(BASE):
        raise ValueError(f"refused: {url[:80]} is not one of the project's static files")
    relative = url.removeprefix(BASE).split("?")[0].split("#")[0]
    if ".." in Path(relative).parts:
        raise ValueError("refused: a path out of the static files")
    found = finders.find(relative)
    if not found:
        raise ValueError(f"no static file {relative}")
    path = Path(found if isinstance(found, str) else found[0])
    return path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"


@functools.cache
def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
            body, content_type = static_file(url)
            return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})

    return StaticOnlyFetcher


def render_pdf(html: str, **options: Any) -> bytes:
    """The PDF of ``html``; ``options`` go to WeasyPrint's ``write_pdf``."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=BASE, url_fetcher=_fetcher_class()())
    return document.write_pdf(**options)
