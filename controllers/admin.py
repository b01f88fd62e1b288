from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .lint import lint_controller
from .models import (
    Controller,
    DataCategory,
    Membership,
    Recipient,
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
    ]


class DataCategoryInline(admin.StackedInline):
    model = DataCategory
    extra = 0


class RecipientInline(admin.TabularInline):
    model = Recipient
    extra = 0


@admin.register(Controller)
class ControllerAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "slug", "country", "supervisory_authority", "statement_date"]
    list_filter = ["country"]
    search_fields = ["legal_name", "slug", "trade_names"]
    list_select_related = ["supervisory_authority"]
    readonly_fields = ["policy_findings"]
    inlines = [RightDeclarationInline, DataCategoryInline, RecipientInline]
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
            '<li class="finding finding-{}"><strong>{}</strong> {} <em>({})</em></li>',
            ((f.severity, f.severity, f.message, f.reference) for f in findings),
        )
        return format_html("<ul>{}</ul>", items)


@admin.register(SupervisoryAuthority)
class SupervisoryAuthorityAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "complaint_url"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "controller", "role"]
    list_filter = ["role", "controller"]
    autocomplete_fields = ["user"]
    search_fields = ["user__username", "controller__legal_name"]
