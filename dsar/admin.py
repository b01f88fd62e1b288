"""The officer's queue: the Django admin as the place where requests get worked.

Scope is decided here once (``_roles``: the user's role per controller, read once a request) and
used by every view through ``get_queryset`` and the permission methods: the list, the case page,
history, steps, actions, document downloads, filters and search. Officers act on requests of
their controllers; auditors see the same scope read-only and never see ID documents. Nothing here
changes a request except through ``dsar.workflow`` — the stock django-fsm admin mixin is not used,
because it executes a transition it hides (django-fsm-2 4.2.4).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from controllers.models import Controller, Membership, Role

from . import iddocs
from .admin_forms import AssignForm, BulkRefuseForm, StaffEntryForm, StepForm
from .intake import receive_request
from .models import FINAL_STATES, IdDocument, RefusalGround, Request, State
from .workflow import Actor, StepNotAllowed, assign, available_steps, is_officer, perform
from .workflow import send_message as send_message_to_subject

STEP_LABELS = {
    "ask_identity": gettext_lazy("Ask for proof of identity"),
    "approve_identity": gettext_lazy("Approve identity"),
    "reject_identity": gettext_lazy("Reject identity (refuse, Art. 12(6))"),
    "ask_subject": gettext_lazy("Ask the subject a question"),
    "extend": gettext_lazy("Extend the period"),
    "prepare_response": gettext_lazy("Prepare the response"),
    "reopen": gettext_lazy("Reopen the response"),
    "complete": gettext_lazy("Approve and send the response"),
    "refuse": gettext_lazy("Refuse"),
    "withdraw": gettext_lazy("Record a withdrawal"),
    "confirm_email": gettext_lazy("Confirm on the subject's behalf"),
    "message": gettext_lazy("Send a message"),
}


def member_controllers(user: Any, roles: tuple[str, ...] = (Role.OFFICER, Role.AUDITOR)) -> Any:
    if not user.is_active or not user.is_staff:
        return Controller.objects.none()
    if user.is_superuser:
        return Controller.objects.all()
    return Controller.objects.filter(memberships__user=user, memberships__role__in=roles)


def officer_controllers(user: Any) -> Any:
    return member_controllers(user, roles=(Role.OFFICER,))


def _roles(request: HttpRequest) -> dict[int, str]:
    """The user's role per controller id, read once a request: the admin asks many times."""
    cached = getattr(request, "_dsar_roles", None)
    if cached is None:
        user = request.user
        if not user.is_active or not user.is_staff:
            cached = {}
        else:
            cached = dict(Membership.objects.filter(user=user).values_list("controller_id", "role"))
            if user.is_superuser:
                # Administrators see every controller's queue; they act only where they are
                # officers (see dsar.workflow.is_officer).
                for pk in Controller.objects.values_list("pk", flat=True):
                    cached.setdefault(pk, Role.AUDITOR)
        request._dsar_roles = cached  # type: ignore[attr-defined]
    return cached


def _is_member(request: HttpRequest) -> bool:
    return bool(_roles(request))


def _is_officer_somewhere(request: HttpRequest) -> bool:
    return Role.OFFICER in _roles(request).values()


class StateFilter(admin.SimpleListFilter):
    """Unconfirmed and expired requests are not the officer's work: hidden unless asked for."""

    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*State.choices, ("all", _("All, including unconfirmed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Request]) -> QuerySet[Request]:
        value = self.value()
        if value == "all":
            return queryset
        if value in State.values:
            return queryset.filter(state=value)
        return queryset.exclude(state__in=[State.UNCONFIRMED, State.EXPIRED])


class ControllerFilter(admin.SimpleListFilter):
    title = gettext_lazy("controller")
    parameter_name = "controller"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        controllers = Controller.objects.filter(pk__in=_roles(request)).only("pk", "legal_name")
        return [(str(c.pk), c.legal_name) for c in controllers]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Request]) -> QuerySet[Request]:
        if self.value():
            return queryset.filter(controller_id=self.value())
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = gettext_lazy("deadline")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("overdue", _("Overdue")),
            ("today", _("Due today")),
            ("week", _("Due this week")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Request]) -> QuerySet[Request]:
        now = timezone.now()
        end_of_today = timezone.localtime(now).replace(hour=23, minute=59, second=59)
        open_ = queryset.exclude(state__in=FINAL_STATES)
        if self.value() == "overdue":
            return open_.filter(effective_deadline__lt=now)
        if self.value() == "today":
            return open_.filter(effective_deadline__gte=now, effective_deadline__lte=end_of_today)
        if self.value() == "week":
            return open_.filter(
                effective_deadline__gte=now, effective_deadline__lte=end_of_today + dt.timedelta(7)
            )
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = gettext_lazy("assigned to")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("me", _("Me")), ("nobody", _("Unassigned"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Request]) -> QuerySet[Request]:
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


def deadline_badge(request: Request, now: dt.datetime) -> tuple[str, str]:
    """(css class, text) for the time left: red when overdue, amber under 25% of the period."""
    if request.state in FINAL_STATES:
        return "closed", "—"
    left = request.effective_deadline - now
    period = request.effective_deadline - request.received_at
    if left.total_seconds() < 0:
        return "overdue", _("overdue by %(time)s") % {"time": _human(-left)}
    level = "amber" if period.total_seconds() > 0 and left / period < 0.25 else "ok"
    return level, _("%(time)s left") % {"time": _human(left)}


def _admin_steps(obj: Request, actor: Actor) -> list[str]:
    """The workflow's steps for this officer now, plus the admin's two conveniences."""
    steps = available_steps(obj, actor)
    if "approve_identity" in steps:
        steps.insert(steps.index("approve_identity") + 1, "reject_identity")
    if obj.state not in (State.UNCONFIRMED, State.EXPIRED):
        steps.append("message")
    return steps


def _human(delta: dt.timedelta) -> str:
    if delta.days >= 1:
        return _("%(n)d d") % {"n": delta.days}
    return _("%(n)d h") % {"n": delta.seconds // 3600}


@admin.register(Request)
class RequestAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "controller",
        "right",
        "state",
        "received_at",
        "deadline",
        "assigned_to",
        "marks",
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
    search_fields = ["reference", "email"]
    ordering = ["effective_deadline", "pk"]
    list_per_page = 50
    # One COUNT(*) of the filtered queue is enough; the unfiltered total costs a second scan.
    show_full_result_count = False
    actions = ["assign_to_me", "assign_to_someone", "bulk_refuse"]

    class Media:
        css = {"all": ["dsar/admin.css"]}

    # --- Scope and permissions: membership decides, not Django's model permissions.

    def get_queryset(self, request: HttpRequest) -> QuerySet[Request]:
        if request.user.is_active and request.user.is_staff and request.user.is_superuser:
            visible = Request.objects.all()
        else:
            visible = Request.objects.filter(controller_id__in=list(_roles(request)))
        return visible.select_related("controller", "assigned_to")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Request | None = None) -> bool:
        if obj is None:
            return _is_member(request)
        return obj.controller_id in _roles(request)

    def has_change_permission(self, request: HttpRequest, obj: Request | None = None) -> bool:
        if obj is None:
            return _is_officer_somewhere(request)
        return _roles(request).get(obj.controller_id) == Role.OFFICER

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_officer_somewhere(request)

    def has_delete_permission(self, request: HttpRequest, obj: Request | None = None) -> bool:
        return False  # requests are records: they are closed, never deleted

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        if not _is_officer_somewhere(request):
            return {}
        return super().get_actions(request)

    # --- The queue's columns.

    @admin.display(description=gettext_lazy("deadline"), ordering="effective_deadline")
    def deadline(self, obj: Request) -> str:
        level, text = deadline_badge(obj, timezone.now())
        return format_html('<span class="dsar-badge dsar-{}">{}</span>', level, text)

    @admin.display(description=gettext_lazy("marks"))
    def marks(self, obj: Request) -> str:
        marks = []
        if obj.paused_since:
            marks.append(("paused", _("paused")))
        if obj.extended_at:
            marks.append(("extended", _("extended")))
        if obj.duplicate_of_id:
            marks.append(("duplicate", _("duplicate")))
        if obj.mail_bounced:
            marks.append(("bounced", _("mail bounced")))
        return format_html_join(" ", '<span class="dsar-mark dsar-{}">{}</span>', marks)

    # --- Views.

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/step/<str:step>/", wrap(self.step_view), name="dsar_request_step"),
            path(
                "<int:pk>/document/<int:document>/",
                wrap(self.document_view),
                name="dsar_request_document",
            ),
            *super().get_urls(),
        ]

    def _get_visible(self, request: HttpRequest, pk: int) -> Request:
        return get_object_or_404(self.get_queryset(request), pk=pk)

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
            return redirect("admin:dsar_request_changelist")
        obj = self._get_visible(request, pk)
        actor = Actor.officer(request.user)
        officer = is_officer(request.user, obj.controller)
        steps = _admin_steps(obj, actor) if officer else []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{obj.reference} — {obj.controller}",
            "obj": obj,
            "events": obj.events.select_related("actor").order_by("seq"),
            "suspensions": obj.suspensions.all(),
            "messages_": obj.messages.select_related("author"),
            "mails": obj.outgoing_mail.all(),
            "documents": obj.id_documents.all() if officer else None,
            "steps": [(step, STEP_LABELS[step]) for step in steps],
            "badge": deadline_badge(obj, timezone.now()),
            "is_officer": officer,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/dsar/request/case.html", context)

    def step_view(self, request: HttpRequest, pk: int, step: str) -> HttpResponse:
        obj = self._get_visible(request, pk)
        if step not in STEP_LABELS:
            raise PermissionDenied
        actor = Actor.officer(request.user)
        posted = request.method == "POST"
        form = StepForm(request.POST if posted else None, step=step, request=obj)
        # Refused whatever the page showed: who may act, and whether the state allows the step,
        # are the workflow's to say, not the UI's (the stock fsm admin mixin gets this wrong).
        if not is_officer(request.user, obj.controller):
            raise PermissionDenied
        if step not in _admin_steps(obj, actor):
            raise PermissionDenied
        if posted and form.is_valid():
            try:
                if step == "message":
                    send_message_to_subject(obj, actor=actor, body=form.cleaned_data["message"])
                elif step == "reject_identity":
                    perform(
                        obj,
                        "refuse",
                        actor=actor,
                        ground=RefusalGround.IDENTITY_NOT_CONFIRMED,
                        **form.arguments(),
                    )
                elif step == "confirm_email":
                    perform(
                        obj,
                        step,
                        actor=actor,
                        has_id_document=obj.id_documents.exists(),
                        **form.arguments(),
                    )
                else:
                    perform(obj, step, actor=actor, **form.arguments())
            except (StepNotAllowed, PermissionDenied):
                raise PermissionDenied from None
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, _("%(step)s: done.") % {"step": STEP_LABELS[step]})
                return redirect("admin:dsar_request_change", obj.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{STEP_LABELS[step]} — {obj.reference}",
            "obj": obj,
            "form": form,
            "step": step,
            "documents": obj.id_documents.all()
            if step in ("approve_identity", "reject_identity")
            else None,
        }
        status = 400 if posted else 200
        return TemplateResponse(request, "admin/dsar/request/step.html", context, status=status)

    def document_view(self, request: HttpRequest, pk: int, document: int) -> HttpResponse:
        obj = self._get_visible(request, pk)
        doc = get_object_or_404(IdDocument, pk=document, request=obj)
        content = iddocs.read_for(doc, request.user)  # PermissionDenied for auditors and others
        # A PDF can carry script the content check cannot see (compressed streams): it is
        # downloaded, never rendered from this origin. Images show inline, sandboxed.
        is_pdf = doc.content_type == "application/pdf"
        extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
        response = FileResponse(iter([content]), content_type=doc.content_type)
        response["Content-Disposition"] = (
            f"{'attachment' if is_pdf else 'inline'}; "
            f'filename="id-{obj.reference}.{extension[doc.content_type]}"'
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
        controllers = officer_controllers(request.user).distinct()
        form = StaffEntryForm(request.POST or None, controllers=controllers)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            created = receive_request(
                controller=data["controller"],
                right=data["right"],
                name=data["name"],
                email=data["email"],
                language=data["language"],
                details=data["details"],
                channel=data["channel"],
                received_at=data["received_at"],
                actor=Actor.officer(request.user),
            )
            self.message_user(request, _("Recorded as %(ref)s.") % {"ref": created.reference})
            return redirect("admin:dsar_request_change", created.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Record a request received by phone, post or email"),
            "form": form,
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "admin/dsar/request/entry.html", context, status=status)

    # --- Actions: each goes through the same workflow and checks as a single change.

    @admin.action(description=gettext_lazy("Assign to me"))
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Request]) -> None:
        self._apply(
            request, queryset, lambda obj, actor: assign(obj, actor=actor, assignee=request.user)
        )

    @admin.action(description=gettext_lazy("Assign to…"))
    def assign_to_someone(
        self, request: HttpRequest, queryset: QuerySet[Request]
    ) -> HttpResponse | None:
        controllers = set(queryset.values_list("controller_id", flat=True))
        officers = get_user_model().objects.filter(is_active=True, is_staff=True)
        for controller in controllers:
            officers = officers.filter(
                Q(is_superuser=True)
                | Q(memberships__controller_id=controller, memberships__role=Role.OFFICER)
            )
        form = AssignForm(
            request.POST if "apply" in request.POST else None, officers=officers.distinct()
        )
        if form.is_bound and form.is_valid():
            assignee = form.cleaned_data["assignee"]
            self._apply(
                request, queryset, lambda obj, actor: assign(obj, actor=actor, assignee=assignee)
            )
            return None
        return self._action_page(request, queryset, form, "assign_to_someone", _("Assign to…"))

    @admin.action(description=gettext_lazy("Refuse with one ground and message"))
    def bulk_refuse(self, request: HttpRequest, queryset: QuerySet[Request]) -> HttpResponse | None:
        form = BulkRefuseForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data

            def refuse(obj: Request, actor: Actor) -> Any:
                return perform(
                    obj,
                    "refuse",
                    actor=actor,
                    ground=data["ground"],
                    reason=data["reason"],
                    message=data["message"],
                )

            self._apply(request, queryset, refuse)
            return None
        return self._action_page(request, queryset, form, "bulk_refuse", _("Refuse"))

    def _action_page(
        self, request: HttpRequest, queryset: QuerySet[Request], form: Any, action: str, title: str
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
        return TemplateResponse(request, "admin/dsar/request/action.html", context)

    def _apply(self, request: HttpRequest, queryset: QuerySet[Request], work: Any) -> None:
        actor = Actor.officer(request.user)
        done, refused = 0, []
        for obj in queryset:
            try:
                work(obj, actor)
                done += 1
            except (PermissionDenied, StepNotAllowed, ValidationError) as error:
                refused.append(f"{obj.reference}: {error}")
        if done:
            self.message_user(request, _("%(n)d request(s) done.") % {"n": done})
        for line in refused:
            self.message_user(request, line, level=messages.WARNING)
