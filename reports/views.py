"""Where the case report is downloaded: a panel on the case file (officers and auditors of the
case's controller, in the admin) and the PDF itself; anyone else gets a 404, as for the case."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string

from cases.models import Case
from controllers import access

from .case_report import LANGUAGES, render


def _case(request: HttpRequest, pk: int) -> Case:
    case = Case.objects.select_related("controller").filter(pk=pk).first() if pk < 2**63 else None
    if case is None or case.controller_id not in access.roles(request.user):
        raise Http404
    return case


def report_panel(case: Case, request: HttpRequest) -> str:
    return render_to_string("reports/panel.html", {"case": case}, request=request)


def case_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    language = request.GET.get("lang", "en")
    if language not in LANGUAGES:
        raise Http404
    response = HttpResponse(render(case, language=language), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{case.reference}-{language}.pdf"'
    response["Cache-Control"] = "no-store"
    return response
