"""A data-subject request, its audit trail, its messages, ID documents and outgoing mail.

A request changes state only through the transitions on ``Request`` (django-fsm, protected field),
and those are called only through ``dsar.workflow.perform``, which locks the row, checks who acts,
writes exactly one ``CaseEvent`` and queues mail in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from controllers.models import Controller, Right, RightDeclaration, Verification
from dsar.deadlines import compute_deadlines


class State(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("Awaiting email confirmation")
    AWAITING_IDENTITY = "awaiting_identity", _("Awaiting proof of identity")
    IDENTITY_REVIEW = "identity_review", _("Identity under review")
    IN_PROGRESS = "in_progress", _("In progress")
    AWAITING_SUBJECT = "awaiting_subject", _("Awaiting your answer")
    READY = "ready", _("Response ready for approval")
    COMPLETED = "completed", _("Completed")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired (never confirmed)")


FINAL_STATES = (State.COMPLETED, State.REFUSED, State.WITHDRAWN, State.EXPIRED)
# Confirmed and not final: the legal clock runs (or is paused) in these.
OPEN_STATES = (
    State.AWAITING_IDENTITY,
    State.IDENTITY_REVIEW,
    State.IN_PROGRESS,
    State.AWAITING_SUBJECT,
    State.READY,
)
# States in which the controller waits for the subject: the clock may be suspended (EDPB §159).
WAITING_STATES = (State.AWAITING_IDENTITY, State.AWAITING_SUBJECT)


class Channel(models.TextChoices):
    WEB = "web", _("Web form")
    EMAIL = "email", _("Email")
    POST = "post", _("Post")
    PHONE = "phone", _("Phone")


class RefusalGround(models.TextChoices):
    """The structured grounds of LEGAL.md section 4."""

    UNFOUNDED_OR_EXCESSIVE = (
        "unfounded_or_excessive",
        _("Manifestly unfounded or excessive (Art. 12(5))"),
    )
    CANNOT_IDENTIFY = (
        "cannot_identify",
        _("The controller cannot identify the subject (Art. 11(2))"),
    )
    IDENTITY_NOT_CONFIRMED = "identity_not_confirmed", _("Identity not confirmed (Art. 12(6))")
    NOT_APPLICABLE = "not_applicable", _("The right's condition is not met")
    ERASURE_EXCEPTION = "erasure_exception", _("Exception to erasure (Art. 17(3))")
    COMPELLING_GROUNDS = "compelling_grounds", _("Compelling legitimate grounds (Art. 21(1))")
    RIGHTS_OF_OTHERS = "rights_of_others", _("Rights and freedoms of others (Art. 15(4))")
    OTHER = "other", _("Other (explained in the text)")


class Language(models.TextChoices):
    NL = "nl", "Nederlands"
    EN = "en", "English"


class Request(FSMModelMixin, models.Model):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    controller = models.ForeignKey(
        Controller, on_delete=models.PROTECT, related_name="requests", verbose_name=_("controller")
    )
    right = models.CharField(_("right"), max_length=30, choices=Right.choices)
    state = FSMField(
        _("state"), default=State.UNCONFIRMED, choices=State.choices, protected=True, max_length=30
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=5, choices=Language.choices)
    # The clock starts at receipt (EDPB §159), which for the web form is when it is stored.
    received_at = models.DateTimeField(_("received"))

    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), max_length=254)
    customer_number = models.CharField(_("customer or account number"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    postal_address = models.TextField(_("postal address"), max_length=500, blank=True)
    details = models.TextField(_("details"), max_length=5000, blank=True)

    # The status link's token is derived from this salt and SECRET_KEY (dsar/links.py), so no
    # credential is stored and every mail can carry the link; a new salt revokes old links.
    status_salt = models.CharField(max_length=32, editable=False)
    confirmed_at = models.DateTimeField(_("email confirmed"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_requests",
        verbose_name=_("assigned to"),
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )

    # Suspension: while paused_since is set the clock stands still; paused_days sums the closed
    # suspensions (the days from asking to receiving, LEGAL.md section 1).
    paused_since = models.DateTimeField(_("clock paused since"), null=True, blank=True)
    paused_days = models.PositiveIntegerField(_("days suspended"), default=0)
    extended_at = models.DateTimeField(_("extended"), null=True, blank=True)
    extension_reason = models.TextField(_("reason for the extension"), blank=True)

    declared_deadline = models.DateTimeField(_("declared deadline"), null=True, blank=True)
    statutory_deadline = models.DateTimeField(_("statutory deadline"))
    extended_deadline = models.DateTimeField(_("extended deadline"))
    notice_by = models.DateTimeField(_("extension or refusal notice by"))
    effective_deadline = models.DateTimeField(_("deadline"), db_index=True)
    # When the deadline sweep next has something to send for this request (dsar/reminders.py);
    # None when nothing is pending. Indexed so a sweep reads only what is due.
    next_milestone_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    refusal_ground = models.CharField(
        _("refusal ground"), max_length=30, choices=RefusalGround.choices, blank=True
    )
    refusal_reason = models.TextField(_("refusal reason"), blank=True)
    partial_refusal = models.BooleanField(_("partly refused"), default=False)
    response = models.TextField(_("response to the subject"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Set when mail to the subject bounced or was rejected: the officer must find another way.
    mail_bounced = models.BooleanField(_("mail to the subject bounced"), default=False)

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["effective_deadline"]
        indexes = [
            models.Index(fields=["state", "effective_deadline"], name="request_state_deadline"),
            models.Index(fields=["controller", "right", "email"], name="request_duplicates"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def declaration(self) -> RightDeclaration | None:
        return self.controller.declaration(self.right)

    @property
    def needs_id_document(self) -> bool:
        declaration = self.declaration
        return declaration is not None and declaration.verification == Verification.ID_DOCUMENT

    @property
    def clock_pauses(self) -> bool:
        declaration = self.declaration
        return declaration.clock_pauses if declaration is not None else True

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def recompute_deadlines(self) -> None:
        """Set the deadline columns from the receipt time, suspensions and extension."""
        declaration = self.declaration
        promise = declaration.promise if declaration and declaration.is_offered else None
        deadlines = compute_deadlines(
            self.received_at,
            country=self.controller.country,
            tz=self.controller.time_zone,
            declared=promise,
            paused_days=self.paused_days,
            extended=self.extended_at is not None,
            extra_holidays=self.controller.holiday_dates,
        )
        self.declared_deadline = deadlines.declared
        self.statutory_deadline = deadlines.statutory
        self.extended_deadline = deadlines.extended
        self.notice_by = deadlines.notice_by
        self.effective_deadline = deadlines.effective
        from .reminders import next_due  # reminders builds on this model

        self.next_milestone_at = next_due(self)

    def local_date(self, moment: dt.datetime) -> dt.date:
        return timezone.localtime(moment, timezone=_zone(self.controller.time_zone)).date()

    # --- Transitions. Each is called only by dsar.workflow.perform, which checks the actor's
    # permission before calling and writes the CaseEvent; the bodies set what the step records.

    @transition(
        field=state,
        source=State.UNCONFIRMED,
        target=RETURN_VALUE(State.AWAITING_IDENTITY, State.IDENTITY_REVIEW, State.IN_PROGRESS),
    )
    def confirm_email(self, *, now: dt.datetime, has_id_document: bool) -> str:
        self.confirmed_at = now
        if self.needs_id_document:
            if has_id_document:
                return State.IDENTITY_REVIEW
            # Only a request recorded by an officer arrives here without the copy its rule asks
            # for: the controller now waits for the subject, so the clock may pause (EDPB §159).
            self._pause(now)
            return State.AWAITING_IDENTITY
        return State.IN_PROGRESS

    @transition(field=state, source=State.UNCONFIRMED, target=State.EXPIRED)
    def expire(self, *, now: dt.datetime) -> None:
        self.closed_at = now

    @transition(
        field=state,
        source=[State.IDENTITY_REVIEW, State.IN_PROGRESS],
        target=State.AWAITING_IDENTITY,
    )
    def ask_identity(self, *, now: dt.datetime) -> None:
        self._pause(now)

    @transition(field=state, source=State.AWAITING_IDENTITY, target=State.IDENTITY_REVIEW)
    def submit_identity(self, *, now: dt.datetime) -> None:
        self._resume(now)

    @transition(field=state, source=State.IDENTITY_REVIEW, target=State.IN_PROGRESS)
    def approve_identity(self, *, now: dt.datetime) -> None:
        pass

    @transition(field=state, source=State.IN_PROGRESS, target=State.AWAITING_SUBJECT)
    def ask_subject(self, *, now: dt.datetime) -> None:
        self._pause(now)

    @transition(field=state, source=State.AWAITING_SUBJECT, target=State.IN_PROGRESS)
    def answer(self, *, now: dt.datetime) -> None:
        self._resume(now)

    def can_extend(self, now: dt.datetime | None = None) -> bool:
        """Art. 12(3): once, and notified within the first month (lengthened by suspensions,
        the running one included)."""
        return self.extended_at is None and (now or timezone.now()) <= self.notice_by_now(now)

    def notice_by_now(self, now: dt.datetime | None = None) -> dt.datetime:
        """The notice date counting the days of a suspension still running."""
        if self.paused_since is None:
            return self.notice_by
        running = (self.local_date(now or timezone.now()) - self.local_date(self.paused_since)).days
        return compute_deadlines(
            self.received_at,
            country=self.controller.country,
            tz=self.controller.time_zone,
            paused_days=self.paused_days + max(running, 0),
            extra_holidays=self.controller.holiday_dates,
        ).notice_by

    @transition(
        field=state,
        source=list(OPEN_STATES),
        target=RETURN_VALUE(*OPEN_STATES),
        conditions=[lambda request: request.can_extend()],
    )
    def extend(self, *, now: dt.datetime, reason: str) -> str:
        # Art. 12(3): once, with reasons, told to the subject within the first month.
        if self.extended_at is not None:
            raise ValidationError(_("The period has already been extended."))
        if now > self.notice_by_now(now):
            raise ValidationError(_("An extension must be notified within the first month."))
        if not reason.strip():
            raise ValidationError(_("An extension needs its reasons."))
        self.extended_at = now
        self.extension_reason = reason
        return self.state

    @transition(field=state, source=State.IN_PROGRESS, target=State.READY)
    def prepare_response(self, *, now: dt.datetime, response: str) -> None:
        if not response.strip():
            raise ValidationError(_("Write the response to the subject."))
        self.response = response

    @transition(field=state, source=State.READY, target=State.IN_PROGRESS)
    def reopen(self, *, now: dt.datetime) -> None:
        pass

    @transition(field=state, source=State.READY, target=State.COMPLETED)
    def complete(
        self, *, now: dt.datetime, partial_ground: str = "", partial_reason: str = ""
    ) -> None:
        if partial_ground:
            _check_ground(partial_ground, partial_reason)
        self.partial_refusal = bool(partial_ground)
        self.refusal_ground = partial_ground
        self.refusal_reason = partial_reason
        self.closed_at = now

    @transition(field=state, source=list(OPEN_STATES), target=State.REFUSED)
    def refuse(self, *, now: dt.datetime, ground: str, reason: str) -> None:
        _check_ground(ground, reason)
        self._resume(now)
        self.refusal_ground = ground
        self.refusal_reason = reason
        self.closed_at = now

    @transition(field=state, source=[State.UNCONFIRMED, *OPEN_STATES], target=State.WITHDRAWN)
    def withdraw(self, *, now: dt.datetime) -> None:
        self._resume(now)
        self.closed_at = now

    def _pause(self, now: dt.datetime) -> None:
        if self.clock_pauses and self.paused_since is None:
            self.paused_since = now

    def _resume(self, now: dt.datetime) -> None:
        """Close a suspension: add the days from asking to receiving (local dates)."""
        if self.paused_since is None:
            return
        days = (self.local_date(now) - self.local_date(self.paused_since)).days
        Suspension.objects.create(
            request=self, started_at=self.paused_since, ended_at=now, days=max(days, 0)
        )
        self.paused_days += max(days, 0)
        self.paused_since = None
        self.recompute_deadlines()


def _zone(name: str) -> dt.tzinfo:
    return ZoneInfo(name)


def _check_ground(ground: str, reason: str) -> None:
    """LEGAL.md section 4: a structured ground, and the reasons Art. 12(4) says the subject is
    told (for Art. 12(5) the controller must be able to show why)."""
    if ground not in RefusalGround.values:
        raise ValidationError(_("Choose a refusal ground."))
    if not reason.strip():
        raise ValidationError(_("Explain the refusal: the subject is told the reasons."))


class Suspension(models.Model):
    """A closed suspension of the clock, kept for the record (Art. 5(2))."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="suspensions")
    started_at = models.DateTimeField(_("information asked"))
    ended_at = models.DateTimeField(_("information received"))
    days = models.PositiveIntegerField(_("days added"))

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.days} day(s) from {self.started_at:%Y-%m-%d}"


class Milestone(models.Model):
    """A reminder that was sent. The unique constraint is what makes "once" hold when two sweeps
    run at the same time or beat restarts: the second insert fails and sends nothing."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=30)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "kind"], name="one_milestone_a_kind")
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.kind}"


class ReferenceCounter(models.Model):
    """The last number handed out in a year: references are DSAR-<year>-<number>."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("case events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("case events are append-only")


class CaseEvent(models.Model):
    """One step in a request's life. Append-only and chained by hash (tamper-evident)."""

    request = models.ForeignKey(Request, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField()
    actor_kind = models.CharField(max_length=10)  # subject, officer, system
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=150)  # kept if the user is deleted
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30)
    ground = models.CharField(max_length=30, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["request", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["request", "seq"], name="one_event_a_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("case events are append-only")

    def canonical(self) -> bytes:
        """The content the hash covers, in a stable serialisation."""
        content = {
            "request": self.request_id,
            "seq": self.seq,
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor_kind": self.actor_kind,
            "actor": self.actor_label,
            "action": self.action,
            "from": self.from_state,
            "to": self.to_state,
            "ground": self.ground,
            "message": self.message,
            "data": self.data,
            "prev": self.prev_hash,
        }
        return json.dumps(content, sort_keys=True, ensure_ascii=False).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


class Direction(models.TextChoices):
    TO_SUBJECT = "to_subject", _("To the subject")
    FROM_SUBJECT = "from_subject", _("From the subject")


class Message(models.Model):
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=15, choices=Direction.choices)
    body = models.TextField(max_length=10000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.request_id} {self.direction} {self.created_at:%Y-%m-%d %H:%M}"


class IdDocument(models.Model):
    """An ID copy, encrypted with its own key; the key is wrapped with settings.ID_DOCUMENT_KEY.

    Deleting the row and its file destroys the only copy of the key and of the ciphertext, so a
    backup of either alone reveals nothing (see dsar/iddocs.py).
    """

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="id_documents")
    file_name = models.CharField(max_length=100)  # random, under MEDIA_ROOT/id-documents/
    wrapped_key = models.BinaryField()
    content_type = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ID document of {self.request_id} ({self.content_type})"


class MailStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class OutgoingMail(models.Model):
    """A message to send, created in the transaction that causes it and sent after commit.

    The send task locks the row and skips anything not queued, so a retry or a redelivered task
    cannot send twice (pretix's OutgoingMail pattern).
    """

    request = models.ForeignKey(
        Request, on_delete=models.CASCADE, related_name="outgoing_mail", null=True
    )
    to = models.EmailField(max_length=254)
    kind = models.CharField(max_length=40)
    language = models.CharField(max_length=5, choices=Language.choices)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=MailStatus.choices, default=MailStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    # Our Message-ID header, so a reply's In-Reply-To finds its request.
    message_id_header = models.CharField(max_length=250, blank=True, db_index=True)
    # The provider's last word on it (anymail's event type: delivered, bounced, rejected, ...).
    delivery_status = models.CharField(max_length=20, blank=True)
    delivery_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="mail_status")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.status})"


class InboundMail(models.Model):
    """A message that reached a controller's privacy address, stored raw, processed once."""

    message_id = models.CharField(max_length=250, unique=True)
    received_at = models.DateTimeField()
    sender = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    raw = models.BinaryField()
    request = models.ForeignKey(
        Request, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_mail"
    )
    # reply, new_request, unmatched (a reference from the wrong sender), unrouted (no controller)
    outcome = models.CharField(max_length=20)

    class Meta:
        ordering = ["received_at"]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.outcome})"
