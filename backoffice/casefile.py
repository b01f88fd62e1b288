"""The case file in the admin: the case page, each step's form, the ID copy, and staff entry.

The page shows what ``cases.selectors.case_file`` gathers; every change goes through
``cases.workflow.perform`` with a form built from the steps table. Who may act, and whether the
state allows a step, are the workflow's to say, whatever the page showed (the stock django-fsm
admin mixin executes a transition it hides, so it is not used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _

from cases import iddocs
from cases.actors import Actor
from cases.extensions import officer_panels
from cases.forms import StepForm
from cases.intake import receive_case
from cases.models import Case, IdDocument
from cases.selectors import case_file
from cases.steps import STEPS
from cases.workflow import StepNotAllowed, available_steps, perform
from controllers import access

from .forms import StaffEntryForm

EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


class CaseFileViews:
    """Mixed into CaseAdmin: its change view is the case file; steps and documents have URLs."""

    admin_site: admin.AdminSite
    opts: Any
    message_user: Callable[..., None]
    get_queryset: Callable[[HttpRequest], QuerySet[Case]]
    has_add_permission: Callable[[HttpRequest], bool]

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/step/<str:step>/", wrap(self.step_view), name="dsar_case_step"),
            path(
                "<int:pk>/document/<int:document>/",
                wrap(self.document_view),
                name="dsar_case_document",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def _visible(self, request: HttpRequest, pk: int) -> Case:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def _page(self, request: HttpRequest, template: str, status: int = 200, **context: Any):
        context = {**self.admin_site.each_context(request), "opts": self.opts, **context}
        return TemplateResponse(request, f"admin/dsar/case/{template}", context, status=status)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """A read-only case file with the steps this user may take; changes go through steps."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        try:
            pk = int(object_id)
        except ValueError:
            return redirect("admin:dsar_case_changelist")
        case = self._visible(request, pk)
        return self._page(
            request,
            "case.html",
            title=f"{case.reference} — {case.controller}",
            case=case,
            file=case_file(case, user=request.user),
            # What the rooms above the core show of the case (the search of each system).
            panels=officer_panels(case, request),
            has_view_permission=True,
        )

    def step_view(self, request: HttpRequest, pk: int, step: str) -> HttpResponse:
        case = self._visible(request, pk)
        declared = STEPS.get(step)
        actor = Actor.officer(request.user)
        if declared is None or step not in available_steps(case, actor):
            raise PermissionDenied
        posted = request.method == "POST"
        # The case file's "approve this plan" link carries the plan's hash; nothing else is
        # taken from a link (a planted reason or response would reach the subject).
        initial = {"plan": request.GET["plan"][:64]} if "plan" in request.GET else {}
        initial = {k: v for k, v in initial.items() if any(f.name == k for f in declared.fields)}
        form = StepForm(
            request.POST if posted else None,
            step=declared,
            case=case,
            who="officer",
            initial=initial,
        )
        if posted and form.is_valid():
            try:
                perform(case, step, actor=actor, **form.arguments())
            except (StepNotAllowed, PermissionDenied):
                raise PermissionDenied from None
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, _("%(step)s: done.") % {"step": declared.label})
                return redirect("admin:dsar_case_change", case.pk)
        # The copy is in reach wherever the step decides identity (and so deletes it).
        documents = case.id_documents.all() if declared.decides_identity_when(case.state) else None
        return self._page(
            request,
            "step.html",
            status=400 if posted else 200,
            title=f"{declared.label} — {case.reference}",
            case=case,
            form=form,
            step=step,
            documents=documents,
        )

    def document_view(self, request: HttpRequest, pk: int, document: int) -> HttpResponse:
        case = self._visible(request, pk)
        doc = get_object_or_404(IdDocument, pk=document, case=case)
        content = iddocs.read_for(doc, request.user)  # PermissionDenied for auditors and others
        # A PDF can carry script the content check cannot see (compressed streams): it is
        # downloaded, never rendered from this origin. Images show inline, sandboxed.
        is_pdf = doc.content_type == "application/pdf"
        response = FileResponse(iter([content]), content_type=doc.content_type)
        response["Content-Disposition"] = (
            f"{'attachment' if is_pdf else 'inline'}; "
            f'filename="id-{case.reference}.{EXTENSIONS[doc.content_type]}"'
        )
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Staff entry: a request received by phone, post or email, at its real time of receipt."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StaffEntryForm(
            request.POST or None, controllers=access.officer_controllers(request.user)
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            created = receive_case(
                controller=data["controller"],
                right=data["right"],
                name=data["name"],
                email=data["email"],
                language=data["language"],
                details=data["details"],
                channel=data["channel"],
                received_at=data["received_at"],
                objection_to=data["objection_to"],
                actor=Actor.officer(request.user),
            )
            self.message_user(request, _("Recorded as %(ref)s.") % {"ref": created.reference})
            return redirect("admin:dsar_case_change", created.pk)
        return self._page(
            request,
            "entry.html",
            status=400 if request.method == "POST" else 200,
            title=_("Record a request received by phone, post or email"),
            form=form,
        )
