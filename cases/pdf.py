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
import gc
import mimetypes
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders

BASE = "https://static.dsar.invalid/"

# Where the system lacks HarfBuzz-Subset, WeasyPrint subsets fonts with fontTools, which stamps
# each subset's "modified" time with the clock unless SOURCE_DATE_EPOCH is set (the
# reproducible-builds convention fontTools reads): two renders of the same case a second apart
# then differ in bytes, and an auditor could not show that a report was rendered from the
# record it claims. A fixed stamp (the project's first release, 2026-01-01) makes them equal;
# a value the environment sets is kept.
FONT_STAMP = "1767225600"


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


@contextmanager
def heap_frozen() -> Iterator[None]:
    """While a PDF is made, the objects the process already holds are left out of the cyclic
    collector's full passes: WeasyPrint allocates hundreds of thousands of objects, each
    full pass it causes walked the whole heap too, and a process holding a large one (a worker
    after some work) rendered a report a fifth slower (bench/report). A process that froze its
    own heap already (the Celery worker, at start) is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def render_pdf(html: str | Sequence[str], **options: Any) -> bytes:
    """The PDF of ``html``; ``options`` go to WeasyPrint's ``write_pdf``.

    A sequence is the parts of one document, each a whole HTML page: each is laid out on its
    own and starts a new page, the page counter runs on across them, and their pages are
    written as one PDF. WeasyPrint holds a document's whole tree and styles while it lays it
    out, so a long document in parts needs the memory of its largest part (and of the laid-out
    pages) instead of all of it."""
    with heap_frozen():
        return _render(html, options)


def _render(html: str | Sequence[str], options: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    os.environ.setdefault("SOURCE_DATE_EPOCH", FONT_STAMP)
    fetcher = _fetcher_class()()
    if isinstance(html, str):
        return HTML(string=html, base_url=BASE, url_fetcher=fetcher).write_pdf(**options)
    pages: list[Any] = []
    first = None
    for part in html:
        if pages:  # the part's first page goes on from the last one's number
            part = part.replace(
                "</head>",
                f"<style>@page :first {{ counter-reset: page {len(pages) + 1} }}</style></head>",
                1,
            )
        document = HTML(string=part, base_url=BASE, url_fetcher=fetcher).render()
        first = first or document
        pages.extend(document.pages)
        del document  # its tree and styles go; its laid-out pages stay
    if first is None:
        raise ValueError("no HTML to render")
    return first.copy(pages).write_pdf(**options)
