"""The queue's filters: state (open ones by default), controller, deadline, assignee."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import OPEN_STATES, Case, State
from cases.selectors import UNSENT, due_windows
from controllers.models import Controller
from controllers.validators import database_id

from . import scope


class StateFilter(admin.SimpleListFilter):
    """The officer's work by default: open cases only. Closed ones, and those never confirmed,
    are a choice away."""

    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            *State.choices,
            ("closed", _("Closed (completed, refused, withdrawn)")),
            ("unsent", _("Decided, but not yet communicated to the subject")),
            ("all", _("All, including unconfirmed and closed")),
        ]

    def choices(self, changelist: Any) -> Any:
        # The default (no parameter) is "open", so say so instead of "All".
        for choice in super().choices(changelist):
            if choice["query_string"] == changelist.get_query_string(remove=[self.parameter_name]):
                choice["display"] = _("Open (to be worked)")
            yield choice

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        value = self.value()
        if value == "all":
            return queryset
        if value == "closed":
            return queryset.filter(state__in=[State.COMPLETED, State.REFUSED, State.WITHDRAWN])
        if value == "unsent":
            return queryset.filter(UNSENT)
        if value in State.values:
            return queryset.filter(state=value)
        return queryset.filter(state__in=OPEN_STATES)


class ControllerFilter(admin.SimpleListFilter):
    title = gettext_lazy("controller")
    parameter_name = "controller"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        controllers = Controller.objects.filter(pk__in=scope.roles(request)).only(
            "pk", "legal_name"
        )
        return [(str(c.pk), c.legal_name) for c in controllers]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        value = self.value()
        if not value:
            return queryset
        # Validated before it reaches the database: an id of a controller in the user's scope.
        chosen = database_id(value)
        if chosen not in scope.roles(request):
            return queryset.none()
        return queryset.filter(controller_id=chosen)


class DeadlineFilter(admin.SimpleListFilter):
    title = gettext_lazy("deadline")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("overdue", _("Overdue")),
            ("today", _("Due today")),
            ("week", _("Due this week")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        windows = due_windows(timezone.now())
        if self.value() in windows:
            return queryset.filter(windows[self.value()])
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = gettext_lazy("assigned to")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("me", _("Me")), ("nobody", _("Unassigned"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset
