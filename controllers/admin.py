from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp import admin as otp_totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import access
from .lint import lint_controller
from .models import (
    Controller,
    DataCategory,
    Membership,
    Recipient,
    RecipientIdentity,
    RightDeclaration,
    SupervisoryAuthority,
)


class RightDeclarationInline(admin.StackedInline):
    model = RightDeclaration
    extra = 0
    fields = [
        ("right", "offer"),
        "condition",
        "quote",
        ("promise_amount", "promise_unit"),
        "promise_quote",
        "clock_pauses",
        ("verification", "mask_fields"),
        "verification_quote",
        "marketing_verification",
        "marketing_verification_quote",
    ]


class DataCategoryInline(admin.StackedInline):
    model = DataCategory
    extra = 0


class RecipientInline(admin.TabularInline):
    model = Recipient
    extra = 0


class RecipientIdentityInline(admin.TabularInline):
    """The register of who the recipients are (CJEU C-154/21), which the access letter names."""

    model = RecipientIdentity
    extra = 0
    fields = ["recipient", "name", "established", "outside_eea", "safeguard", "receives"]


class SuperuserEditsMixin:
    """Registry data: administrators (superusers) change it; members may only look."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.is_administrator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.is_administrator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.is_administrator(request.user)


@admin.register(Controller)
class ControllerAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    list_display = ["legal_name", "slug", "country", "supervisory_authority", "statement_date"]
    list_filter = ["country"]
    search_fields = ["legal_name", "slug", "trade_names"]
    list_select_related = ["supervisory_authority"]
    readonly_fields = ["policy_findings"]
    inlines = [
        RightDeclarationInline,
        DataCategoryInline,
        RecipientInline,
        RecipientIdentityInline,
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Controller]:
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=access.visible_controllers(request.user).values("pk"))
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.visible_controllers(request.user).exists()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        visible = access.visible_controllers(request.user)
        return visible.filter(pk=obj.pk).exists() if obj else visible.exists()

    fieldsets = [
        (_("Findings"), {"fields": ["policy_findings"]}),
        (
            None,
            {
                "fields": [
                    "slug",
                    "legal_name",
                    "trade_names",
                    ("country", "time_zone"),
                    "address",
                    ("registry_kind", "registry_number"),
                ]
            },
        ),
        (
            _("Contact"),
            {
                "fields": [
                    "privacy_emails",
                    "postal_address",
                    ("phone", "website"),
                    ("dpo_name", "dpo_email"),
                ]
            },
        ),
        (
            _("Statement"),
            {
                "fields": [
                    "supervisory_authority",
                    "complaint_right",
                    "automated_decisions",
                    "automated_decision_making",
                    "eea_transfers",
                    ("statement_date", "statement_source"),
                    "extra_holidays",
                    "notes",
                ]
            },
        ),
    ]

    @admin.display(description=_("Where the statement falls short of the GDPR"))
    def policy_findings(self, obj: Controller | None) -> SafeString | str:
        if obj is None or obj.pk is None:
            return "–"
        # From the stored row: on a re-rendered invalid form `obj` carries the rejected input.
        stored = Controller.objects.select_related("supervisory_authority").get(pk=obj.pk)
        findings = lint_controller(stored)
        if not findings:
            return _("No findings.")
        # format_html_join escapes every value: statement text is not trusted markup.
        items = format_html_join(
            "",
            '<li class="finding finding-{}"><strong>{}</strong> {}{} <em>({})</em></li>',
            (
                (
                    f.severity,
                    f.severity,
                    f.message,
                    # The passage the finding is about, in the statement's words.
                    format_html(" <q>{}</q>", f.quote) if f.quote else "",
                    f.reference,
                )
                for f in findings
            ),
        )
        return format_html("<ul>{}</ul>", items)


@admin.register(SupervisoryAuthority)
class SupervisoryAuthorityAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    list_display = ["code", "name", "country", "complaint_url"]


@admin.register(Membership)
class MembershipAdmin(SuperuserEditsMixin, admin.ModelAdmin):
    list_display = ["user", "controller", "role"]
    list_filter = ["role", "controller"]
    autocomplete_fields = ["user"]
    search_fields = ["user__username", "controller__legal_name"]


class TOTPDeviceAdmin(otp_totp_admin.TOTPDeviceAdmin):
    """django-otp's own, except that a device that does not exist is a 404: its QR code and
    configuration views look the device up with ``get()`` (a 500 for any id not in the table)."""

    def config_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)
        return super().qrcode_view(request, pk)


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
