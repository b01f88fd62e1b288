"""Incoming mail, read-only: every message that reached a privacy address, and what became of it.

A message that could not become a request (no usable sender: "rejected"; a fault of ours:
"failed") would otherwise be seen by nobody: the officers of the controller it was addressed to
see it here, with the reason, and can download the original to answer it by hand. Mail that
reached no controller ("unrouted") is seen by administrators only. Nothing here changes
anything; the message is never rendered, only offered as a download.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import InboundMail
from controllers import access

from . import scope
from .filters import ControllerFilter

# Outcomes an officer must look at: the message is a person writing to the privacy address,
# and no request came of it.
NEEDS_A_LOOK = ("rejected", "failed")


def visible_mail(request: HttpRequest) -> QuerySet[InboundMail]:
    mail = InboundMail.objects.select_related("controller", "case").defer("raw")
    if access.is_administrator(request.user):
        return mail
    return mail.filter(controller_id__in=list(scope.roles(request)))


def needing_a_look(request: HttpRequest, now: dt.datetime) -> int:
    """Messages of the user's controllers that became no request, in the last 30 days."""
    recent = Q(received_at__gte=now - dt.timedelta(days=30), outcome__in=NEEDS_A_LOOK)
    return visible_mail(request).filter(recent).count()


class AttentionFilter(admin.SimpleListFilter):
    title = gettext_lazy("needs a look")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("No request came of it"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[InboundMail]) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(outcome__in=NEEDS_A_LOOK)
        return queryset


@admin.register(InboundMail)
class InboundMailAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "outcome",
        "sender",
        "subject",
        "controller",
        "case_link",
        "problem",
    ]
    list_filter = [AttentionFilter, "outcome", ControllerFilter]
    search_fields = ["sender", "subject", "message_id"]
    ordering = ["-received_at", "-pk"]
    list_per_page = 50
    show_full_result_count = False
    fields = [
        "received_at",
        "outcome",
        "problem",
        "sender",
        "subject",
        "message_id",
        "controller",
        "case_link",
        "original",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMail]:
        return visible_mail(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return scope.is_member(request)

    def has_view_permission(self, request: HttpRequest, obj: InboundMail | None = None) -> bool:
        if obj is None:
            return scope.is_member(request)
        if obj.controller_id is None:
            return access.is_administrator(request.user)
        return obj.controller_id in scope.roles(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what arrived, like the cases it became

    @admin.display(description=gettext_lazy("request"))
    def case_link(self, obj: InboundMail) -> str:
        if obj.case is None:
            return "—"
        url = reverse("admin:dsar_case_change", args=[obj.case_id])
        return format_html('<a href="{}">{}</a>', url, obj.case.reference)

    @admin.display(description=gettext_lazy("original message"))
    def original(self, obj: InboundMail) -> str:
        url = reverse("admin:dsar_inboundmail_original", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download (.eml)"))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.original_view)
        return [
            path("<int:pk>/original/", view, name="dsar_inboundmail_original"),
            *super().get_urls(),
        ]

    def original_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The message as it arrived, as a download: never shown in the admin's own origin."""
        mail = InboundMail.objects.filter(pk=pk).first()
        if mail is None:
            raise Http404
        if not self.has_view_permission(request, mail):
            raise PermissionDenied
        response = HttpResponse(bytes(mail.raw), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="message-{mail.pk}.eml"'
        return response

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "title": _("Incoming mail")}
        return super().changelist_view(request, extra_context)
