"""The queue's bulk actions. Each goes through the workflow, case by case, with the same checks
as a single change: a case outside the officer's scope or state is reported, never changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cases.actors import Actor
from cases.models import Case
from cases.workflow import StepNotAllowed, assign, perform
from controllers import access
from controllers.validators import database_id

from .forms import AssignForm, BulkRefuseForm


def _assigned(n: int) -> str:
    return ngettext("%(n)d request assigned.", "%(n)d requests assigned.", n)


def _refused(n: int) -> str:
    return ngettext("%(n)d request refused.", "%(n)d requests refused.", n)


class QueueActions:
    """Mixed into CaseAdmin; ``actions`` names these methods."""

    admin_site: admin.AdminSite
    opts: Any
    message_user: Callable[..., None]

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Case]
    ) -> HttpResponse | None:
        # The selection is ids from a form: checked before Django puts them in a query.
        selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        if not all(database_id(value) for value in selected):
            self.message_user(
                request, _("The selection is not valid; nothing was done."), messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)  # type: ignore[misc]

    @admin.action(description=gettext_lazy("Assign to me"))
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._apply(
            request,
            queryset,
            lambda case, actor: assign(case, actor=actor, assignee=request.user),
            _assigned,
        )

    @admin.action(description=gettext_lazy("Assign to…"))
    def assign_to_someone(
        self, request: HttpRequest, queryset: QuerySet[Case]
    ) -> HttpResponse | None:
        officers = access.officers_of_all(set(queryset.values_list("controller_id", flat=True)))
        form = AssignForm(request.POST if "apply" in request.POST else None, officers=officers)
        if form.is_bound and form.is_valid():
            assignee = form.cleaned_data["assignee"]
            self._apply(
                request,
                queryset,
                lambda case, actor: assign(case, actor=actor, assignee=assignee),
                _assigned,
            )
            return None
        return self._action_page(request, queryset, form, "assign_to_someone", _("Assign to…"))

    @admin.action(description=gettext_lazy("Refuse with one ground and message"))
    def bulk_refuse(self, request: HttpRequest, queryset: QuerySet[Case]) -> HttpResponse | None:
        form = BulkRefuseForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data

            def refuse(case: Case, actor: Actor) -> Any:
                return perform(
                    case,
                    "refuse",
                    actor=actor,
                    ground=data["ground"],
                    reason=data["reason"],
                    evidence=data["evidence"],
                    message=data["message"],
                )

            self._apply(request, queryset, refuse, _refused)
            return None
        return self._action_page(request, queryset, form, "bulk_refuse", _("Refuse"))

    def _action_page(
        self, request: HttpRequest, queryset: QuerySet[Case], form: Any, action: str, title: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "action": action,
            "queryset": queryset,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            # "Select all N" must survive the intermediate page, or a spam wave stays unrefused.
            "select_across": request.POST.get("select_across") == "1",
        }
        return TemplateResponse(request, "admin/dsar/case/action.html", context)

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Case], work: Any, done_message: Any
    ) -> None:
        actor = Actor.officer(request.user)
        done, refused = 0, []
        for case in queryset:
            try:
                work(case, actor)
                done += 1
            except (PermissionDenied, StepNotAllowed, ValidationError) as error:
                refused.append(f"{case.reference}: {error}")
        if done:
            self.message_user(request, done_message(done) % {"n": done})
        for line in refused:
            self.message_user(request, line, level=messages.WARNING)
