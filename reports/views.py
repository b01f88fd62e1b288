"""Where the reports are downloaded, in the admin: a panel on the case file with the case report
(officers and auditors of the case's controller; anyone else gets a 404, as for the case), and
the reports page: a period and the controllers of the user's own scope, for the compliance PDF,
its figures as CSV and the request log as CSV."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import Case
from controllers import access
from controllers.models import Controller

from . import archive, compliance
from .case_report import LANGUAGES, render
from .models import Archive, ArchiveStatus


def _case(request: HttpRequest, pk: int) -> Case:
    case = Case.objects.select_related("controller").filter(pk=pk).first()
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


# --- The reports page: a period and the controllers of the user's own scope.


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From (received on or after)"))
    end = forms.DateField(label=gettext_lazy("To (received on or before)"))
    controllers = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Controllers"),
        queryset=Controller.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language"), choices=[("en", "English"), ("nl", "Nederlands")]
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["controllers"].queryset = Controller.objects.filter(
            pk__in=access.roles(user)
        ).order_by("legal_name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The period ends before it starts."))
        if start and end and (end - start).days > 3660:
            raise forms.ValidationError(_("A period of at most ten years."))
        return data


def _period(request: HttpRequest) -> PeriodForm:
    return PeriodForm(request.GET or None, user=request.user)


def index(request: HttpRequest) -> HttpResponse:
    if not access.roles(request.user):
        raise Http404
    form = (
        _period(request) if request.method == "GET" else PeriodForm(request.POST, user=request.user)
    )
    links = {}
    if form.is_valid() and request.method == "GET":
        query = request.GET.urlencode()
        links = {
            name: f"{reverse(f'reports_{name}')}?{query}"
            for name in ("compliance_pdf", "figures_csv", "log_csv")
        }
    return TemplateResponse(
        request,
        "reports/index.html",
        {
            **admin.site.each_context(request),
            "title": _("Reports"),
            "form": form,
            "links": links,
            "archives": Archive.objects.filter(requested_by=request.user)[:10],
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _chosen(request: HttpRequest) -> tuple[PeriodForm, list[Controller]]:
    form = _period(request)
    if not form.is_valid():
        raise Http404
    return form, list(form.cleaned_data["controllers"])


def compliance_pdf(request: HttpRequest) -> HttpResponse:
    form, controllers = _chosen(request)
    data = compliance.figures(controllers, form.cleaned_data["start"], form.cleaned_data["end"])
    response = HttpResponse(
        compliance.render(data, language=form.cleaned_data["language"]),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = f'attachment; filename="{_name(form, "compliance")}.pdf"'
    return response


def figures_csv(request: HttpRequest) -> HttpResponse:
    form, controllers = _chosen(request)
    data = compliance.figures(controllers, form.cleaned_data["start"], form.cleaned_data["end"])
    response = HttpResponse(
        compliance.figures_csv(data, form.cleaned_data["language"]),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{_name(form, "figures")}.csv"'
    return response


def log_csv(request: HttpRequest) -> StreamingHttpResponse:
    form, controllers = _chosen(request)
    lines = compliance.request_log(
        controllers,
        form.cleaned_data["start"],
        form.cleaned_data["end"],
        form.cleaned_data["language"],
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_name(form, "requests")}.csv"'
    return response


def _name(form: PeriodForm, what: str) -> str:
    return f"{what}-{form.cleaned_data['start']:%Y%m%d}-{form.cleaned_data['end']:%Y%m%d}"


# --- A ZIP of the case reports of the requests closed in a period (a Celery task builds it).


def archive_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        raise Http404
    form = PeriodForm(request.POST, user=request.user)
    if not form.is_valid():
        return index(request)
    made = archive.request(
        request.user,
        list(form.cleaned_data["controllers"]),
        form.cleaned_data["start"],
        form.cleaned_data["end"],
        form.cleaned_data["language"],
    )
    return redirect("reports_archive", made.pk)


def _archive(request: HttpRequest, pk: int) -> Archive:
    found = Archive.objects.filter(pk=pk, requested_by=request.user).first()
    # Its controllers must still be the user's: a membership ended since, and it is gone.
    if found is None or not set(found.controllers) <= set(access.roles(request.user)):
        raise Http404
    return found


def archive_page(request: HttpRequest, pk: int) -> HttpResponse:
    found = _archive(request, pk)
    return TemplateResponse(
        request,
        "reports/archive.html",
        {**admin.site.each_context(request), "title": _("Case reports (ZIP)"), "archive": found},
    )


def archive_download(request: HttpRequest, pk: int) -> FileResponse:
    found = _archive(request, pk)
    path = archive.path_of(found)
    if found.status != ArchiveStatus.READY or not path.is_file():
        raise Http404
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"case-reports-{found.start:%Y%m%d}-{found.end:%Y%m%d}.zip",
        content_type="application/zip",
    )
