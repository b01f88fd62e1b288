"""The officer's queue: the Django admin as the place where cases get worked.

Scope comes from ``controllers.access`` (read once a page, ``backoffice.scope``) and is applied by
``get_queryset`` and the permission methods to every view: the list, the case file, history,
steps, actions, document downloads, filters and search. Officers act on cases of their
controllers; auditors and administrators see the same scope read-only and never see ID copies.
Nothing here changes a case except through ``cases.workflow``. The rest lives beside it:
``filters``, ``actions`` (bulk), ``casefile`` (the case page, steps, ID copy, staff entry).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import Case
from cases.selectors import deadline_badge

from . import inbox, scope
from .actions import QueueActions
from .casefile import CaseFileViews
from .filters import AssigneeFilter, ControllerFilter, DeadlineFilter, StateFilter

__all__ = ["CaseAdmin", "inbox"]  # inbox registers the incoming mail's page


@admin.register(Case)
class CaseAdmin(CaseFileViews, QueueActions, admin.ModelAdmin):
    # The deadline next to the reference: on a narrow screen the first columns stay in view.
    list_display = [
        "reference",
        "deadline",
        "state",
        "right",
        "marks",
        "assigned_to",
        "controller",
        "received_at",
    ]
    list_display_links = ["reference"]
    list_select_related = ["controller", "assigned_to"]
    list_filter = [
        StateFilter,
        ControllerFilter,
        "right",
        DeadlineFilter,
        AssigneeFilter,
        "channel",
    ]
    search_fields = ["reference", "email", "name"]
    ordering = ["effective_deadline", "pk"]
    list_per_page = 50
    # One COUNT(*) of the filtered queue is enough; the unfiltered total costs a second scan.
    show_full_result_count = False
    actions = ["assign_to_me", "assign_to_someone", "bulk_refuse"]

    class Media:
        css = {"all": ["dsar/admin.css"]}

    # --- Scope and permissions: membership decides, not Django's model permissions.

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        return scope.visible_cases(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return scope.is_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Case | None = None) -> bool:
        if obj is None:
            return scope.is_member(request)
        return obj.controller_id in scope.roles(request)

    def has_change_permission(self, request: HttpRequest, obj: Case | None = None) -> bool:
        if obj is None:
            return scope.is_officer_somewhere(request)
        return scope.is_officer_of(request, obj.controller_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return scope.is_officer_somewhere(request)

    def has_delete_permission(self, request: HttpRequest, obj: Case | None = None) -> bool:
        return False  # cases are records: they are closed, never deleted

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        if not scope.is_officer_somewhere(request):
            return {}
        return super().get_actions(request)

    # --- The queue's columns.

    @admin.display(description=gettext_lazy("deadline"), ordering="effective_deadline")
    def deadline(self, obj: Case) -> str:
        level, text = deadline_badge(obj, timezone.now())
        return format_html('<span class="dsar-badge dsar-{}">{}</span>', level, text)

    @admin.display(description=gettext_lazy("marks"))
    def marks(self, obj: Case) -> str:
        marks = []
        if obj.paused_since:
            marks.append(("paused", _("paused")))
        if obj.extended_at:
            marks.append(("extended", _("extended")))
            if obj.extension_sent_at is None:
                marks.append(("bounced", _("extension notice not sent")))
        if obj.duplicate_of_id:
            marks.append(("duplicate", _("duplicate")))
        if obj.mail_bounced:
            marks.append(("bounced", _("mail bounced")))
        return format_html_join(" ", '<span class="dsar-mark dsar-{}">{}</span>', marks)
