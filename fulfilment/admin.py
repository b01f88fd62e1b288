"""The officers' supplements to the access letter, kept for their controller (``LetterSupplement``):
who supplied what, for which request, and whether it is reused (linked from a request's letter
page, ``fulfilment.searches.officer.letter_items_view``). An officer of the controller may
stop the reuse of one (the next request then asks again); nothing is added or deleted here: an
answer is supplied on its request's page, and stays in the record."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from controllers import access

from .models import LetterSupplement


@admin.register(LetterSupplement)
class LetterSupplementAdmin(admin.ModelAdmin):
    list_display = ["key", "controller", "case", "language", "reuse", "by", "at"]
    list_filter = ["reuse", "controller", "language"]
    search_fields = ["key", "text"]
    fields = [
        "controller",
        "case",
        "key",
        "language",
        "choice",
        "text",
        "reuse",
        "reuse_stopped_at",
        "by",
        "at",
    ]
    readonly_fields = [
        "controller",
        "case",
        "key",
        "language",
        "choice",
        "text",
        "reuse_stopped_at",
        "by",
        "at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LetterSupplement]:
        visible = access.visible_controllers(request.user).values("pk")
        return super().get_queryset(request).filter(controller__in=visible)

    def has_module_permission(self, request: HttpRequest) -> bool:
        # Not in the admin's menu (which every admin page builds, and a query more on each):
        # reached from a request's letter page, which links the controller's list.
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.visible_controllers(request.user).exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Only stopping a reuse is an officer's edit here: an answer checked for one request
        # (whether data went to an occasional recipient) or one no longer reused is never
        # made reusable after the fact, for letters it was not written for.
        if obj is not None and (obj.per_request or not obj.reuse):
            return [*self.readonly_fields, "reuse"]
        return list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change and "reuse" in form.changed_data and not obj.reuse:
            obj.reuse_stopped_at = timezone.now()
        super().save_model(request, obj, form, change)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return bool(access.officer_controllers(request.user).exists())
        return access.is_officer(request.user, obj.controller_id)
