"""The subject's side of fulfilment, and the processors' callbacks.

The status page shows a panel (registered with ``cases.extensions``) once a package is
released; the package page asks for a one-time code and streams the download. A link used after
the package expired or was withdrawn gets a clear page (410), never an error.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from cases.links import case_for_status
from cases.models import Case, State
from controllers.systems import spec_of

from ..models import PackageStatus, Search, SearchStatus
from ..systems.connectors.base import ConnectorError
from ..systems.connectors.http import SIGNATURE, secret_for, verify
from .collect import DATA_RIGHTS, enqueue
from .delivery import available, check_code, download, send_code
from .package import package_of


def subject_panel(case: Case, request: HttpRequest) -> str:
    """On the status page: the package, while it can be downloaded, or what became of it."""
    if case.right not in DATA_RIGHTS or case.state != State.COMPLETED:
        return ""
    package = package_of(case)
    if package is None or package.status not in (
        PackageStatus.RELEASED,
        PackageStatus.REVOKED,
        PackageStatus.EXPIRED,
    ):
        return ""
    token = request.resolver_match.kwargs.get("token", "") if request.resolver_match else ""
    return render_to_string(
        "fulfilment/subject_panel.html",
        {
            "case": case,
            "package": package,
            "available": available(package),
            "url": reverse("package", args=[case.reference, token]),
        },
        request=request,
    )


@require_http_methods(["GET", "POST"])
def package_page(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    case = case_for_status(reference, token)
    if case is None:
        return render(request, "public/error.html", {"problem": "link_invalid"}, status=404)
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        # Opened from a mail in a fresh browser: the request's language, as the status page.
        translation.activate(case.language)
        request.LANGUAGE_CODE = case.language
    package = package_of(case) if case.right in DATA_RIGHTS else None
    context: dict[str, Any] = {
        "case": case,
        "package": package,
        "controller": case.controller,
        "minutes": settings.DOWNLOAD_CODE_MINUTES,
    }
    if package is None or package.status not in (
        PackageStatus.RELEASED,
        PackageStatus.REVOKED,
        PackageStatus.EXPIRED,
    ):
        return render(request, "fulfilment/package_gone.html", context, status=404)
    if not available(package):
        return render(request, "fulfilment/package_gone.html", context, status=410)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "send_code":
            try:
                send_code(package)
                context["sent"] = True
            except ValidationError as error:
                context["error"] = error.messages[0]
                status = 429
        elif action == "download":
            if check_code(package, str(request.POST.get("code", ""))[:20]):
                chunks = download(package)
                if chunks is None:
                    # Withdrawn or expired since the page was read: its file is deleted.
                    package.refresh_from_db()
                    return render(request, "fulfilment/package_gone.html", context, status=410)
                response = StreamingHttpResponse(chunks, content_type="application/zip")
                response["Content-Length"] = str(package.size)
                response["Content-Disposition"] = (
                    f'attachment; filename="{case.reference}-{package.kind}.zip"'
                )
                response["Cache-Control"] = "no-store"
                return response
            context["error"] = _(
                "That code is not right, or no longer valid. Ask for a new code if it expired."
            )
            context["sent"] = True
            status = 400
        else:
            status = 400
    return render(request, "fulfilment/package_page.html", context, status=status)


@csrf_exempt
@require_POST
def callback(request: HttpRequest, search_id: int) -> HttpResponse:
    """A processor says a request changed: signed with the system's secret, or refused."""
    search = Search.objects.select_related("system").filter(pk=search_id).first()
    # One answer for every refusal: it tells nobody which searches wait on a processor.
    refused = HttpResponseForbidden("refused")
    if search is None or search.system is None or not search.remote_id:
        return refused
    try:
        secret = secret_for(spec_of(search.system.spec))
    except ConnectorError:
        return refused
    body = request.body
    if not verify(secret, body, request.headers.get(SIGNATURE, "")):
        return refused
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return HttpResponse("not JSON", status=400)
    if not isinstance(message, dict) or message.get("subject_request_id") != search.remote_id:
        return HttpResponse("not about this request", status=400)
    with transaction.atomic():
        # Not while a failed try waits out its backoff (error set): a callback replayed from a
        # log must not spend the retries of a processor that is down.
        updated = Search.objects.filter(pk=search.pk, status=SearchStatus.REMOTE, error="").update(
            next_attempt_at=timezone.now()
        )
        if updated:
            # Ask for the results now instead of at the next poll.
            transaction.on_commit(lambda: enqueue(search.pk))
    return HttpResponse(status=202)
