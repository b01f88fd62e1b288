"""The case: one data subject's request, its state machine and its legal clock.

A case changes state only through the transitions on ``Case`` (django-fsm, protected field), and
those are called only through ``cases.workflow.perform``, which locks the row, checks who acts,
writes exactly one ``CaseEvent`` and queues mail in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from controllers.models import Controller, Right, RightDeclaration
from legalclock import milestone_times

from .grounds import ObjectionTo, RefusalGround, check_ground, ground_label

# How a case's reference reads (cases.intake.next_reference): checked before a reference from a
# link or a mail subject reaches the database.
REFERENCE = re.compile(r"DSAR-\d{4}-\d{6,9}")


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
# A decision the subject is sent: its deadline is judged by when that reached them.
DECIDED_STATES = (State.COMPLETED, State.REFUSED)
# The milestone of a decision whose mail has not reached the subject by its deadline.
DECISION_UNSENT = "decision_unsent"
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


class PauseReason(models.TextChoices):
    """Why the clock stands still (docs/legal.md §1): the two waits EDPB 01/2022 §159 allows.
    A question of another kind, and a copy of an ID document the controller asks of everyone,
    do not stop it."""

    IDENTITY_DOUBT = "identity_doubt", _("Reasonable doubt about identity (Art. 12(6))")
    CLARIFICATION = (
        "clarification",
        _("Clarification of a request whose scope is unclear (EDPB 01/2022 §159)"),
    )


# The negative confirmation (Art. 15(1), first limb): what "No data held" answers.
NO_DATA_RESPONSE = _(
    "We have searched for personal data about you and found none: we process no personal data "
    "of yours, so there is nothing to copy, correct, restrict or erase. This answers your "
    "request (Article 15(1) GDPR)."
)


class Language(models.TextChoices):
    NL = "nl", "Nederlands"
    EN = "en", "English"


class Case(FSMModelMixin, models.Model):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    controller = models.ForeignKey(
        Controller, on_delete=models.PROTECT, related_name="cases", verbose_name=_("controller")
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

    # The status link's token is derived from this salt and SECRET_KEY (cases/links.py), so no
    # credential is stored and every mail can carry the link; a new salt revokes old links.
    status_salt = models.CharField(max_length=32, editable=False)
    confirmed_at = models.DateTimeField(_("email confirmed"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
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
    # suspensions (the days from asking to receiving, docs/legal.md §1).
    paused_since = models.DateTimeField(_("clock paused since"), null=True, blank=True)
    # Why it is paused (PauseReason): set with paused_since, kept on the Suspension it becomes.
    pause_reason = models.CharField(
        _("clock paused for"), max_length=20, choices=PauseReason.choices, blank=True
    )
    paused_days = models.PositiveIntegerField(_("days suspended"), default=0)
    extended_at = models.DateTimeField(_("extended"), null=True, blank=True)
    extension_reason = models.TextField(_("reason for the extension"), blank=True)

    declared_deadline = models.DateTimeField(_("declared deadline"), null=True, blank=True)
    statutory_deadline = models.DateTimeField(_("statutory deadline"))
    extended_deadline = models.DateTimeField(_("extended deadline"))
    notice_by = models.DateTimeField(_("extension or refusal notice by"))
    effective_deadline = models.DateTimeField(_("deadline"), db_index=True)
    # When the deadline sweep next has something to send for this case (reminders/sweep.py);
    # None when nothing is pending. Indexed so a sweep reads only what is due.
    next_milestone_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    refusal_ground = models.CharField(
        _("refusal ground"), max_length=30, choices=RefusalGround.choices, blank=True
    )
    refusal_reason = models.TextField(_("refusal reason"), blank=True)
    # Art. 12(5): what shows the request manifestly unfounded or excessive (the controller bears
    # the burden); kept for the record, not sent to the subject.
    refusal_evidence = models.TextField(_("evidence of the refusal"), blank=True)
    # An objection (Art. 21): to direct marketing, to other processing, or both; "" while
    # unrecorded. The subject says so at intake, or an officer records it (record_objection).
    objection_to = models.CharField(
        _("objection to"), max_length=30, choices=ObjectionTo.choices, blank=True
    )
    partial_refusal = models.BooleanField(_("partly refused"), default=False)
    response = models.TextField(_("response to the subject"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # When the decision (completion or refusal) and the extension notice reached the subject:
    # the sent time of the mail that carries each (cases.mail.deliver), cleared again if that
    # mail bounces. A deadline is kept by what left, not by the officer's click (closed_at).
    decision_sent_at = models.DateTimeField(_("decision sent"), null=True, blank=True)
    extension_sent_at = models.DateTimeField(_("extension notice sent"), null=True, blank=True)
    # Set when mail to the subject bounced or was rejected: the officer must find another way.
    mail_bounced = models.BooleanField(_("mail to the subject bounced"), default=False)
    # The head of the case's hash chain (cases.audit): how many events it has and a keyed hash
    # of that count and the last event's hash. Dropping the last events, or rewriting one, no
    # longer matches it, and it cannot be recomputed without the key.
    audit_count = models.PositiveIntegerField(default=0, editable=False)
    audit_head = models.CharField(max_length=64, blank=True, editable=False)
    # The last event's hash, so appending one reads no event (the head vouches for it).
    audit_last = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["effective_deadline"]
        indexes = [
            models.Index(fields=["state", "effective_deadline"], name="request_state_deadline"),
            # The duplicate lookup at intake compares addresses case-insensitively: an index on
            # the lowercased address, or each intake reads every case of the controller.
            models.Index("controller", "right", Lower("email"), name="case_duplicates_lower_email"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def declaration(self) -> RightDeclaration | None:
        return self.controller.declaration(self.right)

    @property
    def needs_id_document(self) -> bool:
        declaration = self.declaration
        return declaration is not None and declaration.needs_id_document_for(self.objection_to)

    @property
    def clock_pauses(self) -> bool:
        declaration = self.declaration
        return declaration.pauses_clock if declaration is not None else True

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_decided(self) -> bool:
        """Completed or refused: a decision the subject must be sent (withdrawn and expired
        requests are not decided)."""
        return self.state in DECIDED_STATES

    @property
    def decision_unsent(self) -> bool:
        """Decided, but the mail that carries the decision has not (or not yet) reached the
        subject: queued, failed, bounced or rejected. The deadline is not kept by it."""
        return self.is_decided and self.decision_sent_at is None

    def recompute_deadlines(self) -> None:
        """Set the deadline columns from the receipt time, suspensions and extension."""
        deadlines = self.controller.deadlines(
            self.right,
            self.received_at,
            paused_days=self.paused_days,
            extended=self.extended_at is not None,
        )
        self.declared_deadline = deadlines.declared
        self.statutory_deadline = deadlines.statutory
        self.extended_deadline = deadlines.extended
        self.notice_by = deadlines.notice_by
        self.effective_deadline = deadlines.effective
        self.next_milestone_at = self.next_milestone()

    def milestone_schedule(self) -> dict[str, dt.datetime]:
        """Each reminder milestone of an open, running case and when it falls due.

        While the clock is paused nothing is pending: the deadline is about to move. A decision
        whose mail has not reached the subject has one milestone: its deadline (a refusal's, the
        one-month notice date), when the record says it passed uncommunicated.
        """
        if self.decision_unsent:
            due = self.notice_by if self.state == State.REFUSED else self.effective_deadline
            return {DECISION_UNSENT: due}
        if self.state not in OPEN_STATES or self.paused_since is not None:
            return {}
        return milestone_times(
            received=self.received_at,
            deadline=self.effective_deadline,
            notice_by=self.notice_by,
            # Until an extension notice has reached the subject (an open case has no refusal):
            # one clicked but stuck in the queue or bounced has told the subject nothing.
            notice_pending=self.extension_sent_at is None,
            country=self.controller.country,
            tz=self.controller.time_zone,
            extra_holidays=self.controller.holiday_dates,
        )

    def next_milestone(self, sent: set[str] | None = None) -> dt.datetime | None:
        """The earliest milestone not yet sent (``sent``: the kinds already claimed)."""
        if sent is None:
            sent = set(self.milestones.values_list("kind", flat=True)) if self.pk else set()
        pending = [when for kind, when in self.milestone_schedule().items() if kind not in sent]
        return min(pending) if pending else None

    def local_date(self, moment: dt.datetime) -> dt.date:
        return timezone.localtime(moment, timezone=_zone(self.controller.time_zone)).date()

    # --- Transitions. Each is called only by cases.workflow.perform, which checks the actor's
    # permission before calling and writes the CaseEvent; the bodies set what the step records.

    @transition(
        field=state,
        source=State.UNCONFIRMED,
        target=RETURN_VALUE(State.AWAITING_IDENTITY, State.IDENTITY_REVIEW, State.IN_PROGRESS),
    )
    def confirm_email(self, *, now: dt.datetime) -> str:
        self.confirmed_at = now
        if self.needs_id_document:
            if self.id_documents.exists():
                return State.IDENTITY_REVIEW
            # Only a request recorded by an officer arrives here without the copy its rule asks
            # for. The controller asks it of everyone: no doubt about this subject, so the
            # clock runs on (EDPB 01/2022 §159 allows a pause for reasonable doubt only).
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
    def ask_identity(self, *, now: dt.datetime, doubt: str = "") -> None:
        """Art. 12(6): more proof only on reasonable doubt, stated, and only that pauses the
        clock. Where the controller's rule asks every subject for an ID copy, asking (again)
        for it without a doubt about this subject (an unreadable scan) is that routine demand:
        allowed while the copy is under review, and the clock runs on."""
        if not doubt.strip():
            # Only while the copy is reviewed: once identity is accepted, asking again is asking
            # for more proof, which takes a stated doubt like any other.
            if self.needs_id_document and self.state == State.IDENTITY_REVIEW:
                return
            raise ValidationError(
                _(
                    "Say what gives reasonable doubt about the subject's identity (Art. 12(6)): "
                    "without it no more proof may be asked."
                )
            )
        self._pause(now, PauseReason.IDENTITY_DOUBT)

    @transition(field=state, source=State.AWAITING_IDENTITY, target=State.IDENTITY_REVIEW)
    def submit_identity(self, *, now: dt.datetime) -> None:
        self._resume(now)

    @transition(field=state, source=State.IDENTITY_REVIEW, target=State.IN_PROGRESS)
    def approve_identity(self, *, now: dt.datetime) -> None:
        pass

    @transition(field=state, source=State.IN_PROGRESS, target=State.AWAITING_SUBJECT)
    def ask_subject(self, *, now: dt.datetime) -> None:
        """A question that clarifies a request whose scope is unclear: the clock pauses."""
        self._pause(now, PauseReason.CLARIFICATION)

    @transition(field=state, source=State.IN_PROGRESS, target=State.AWAITING_SUBJECT)
    def ask_question(self, *, now: dt.datetime) -> None:
        """Any other question: the controller waits for an answer, the clock does not."""

    @transition(
        field=state,
        source=[State.UNCONFIRMED, *OPEN_STATES],
        target=RETURN_VALUE(State.UNCONFIRMED, *OPEN_STATES),
    )
    def record_objection(self, *, now: dt.datetime, objection_to: str) -> str:
        """What the objection is to, recorded by an officer. What the subject said is never
        narrowed: an objection they made to direct marketing stays one (Art. 21(3))."""
        if self.right != Right.OBJECTION:
            raise ValidationError(_("Only an objection is to something."))
        if objection_to not in ObjectionTo.values:
            raise ValidationError(_("Choose what the objection is to."))
        # Recorded again, it widens (what the objection was to stays part of it), never
        # narrows: an objection once to direct marketing keeps Art. 21(3)'s protection.
        before, after = _objection_parts(self.objection_to), _objection_parts(objection_to)
        if not before <= after:
            raise ValidationError(
                _("The objection was recorded as %(before)s: that cannot be taken out of it.")
                % {"before": self.get_objection_to_display()}
            )
        self.objection_to = objection_to
        return self.state

    @transition(field=state, source=State.AWAITING_SUBJECT, target=State.IN_PROGRESS)
    def answer(self, *, now: dt.datetime) -> None:
        self._resume(now)

    # The moment of the step being taken (``cases.workflow.perform`` sets it on the row it
    # locked): a transition's condition reads it, so a step taken with its clock set back is
    # judged at its own moment. None outside a step: the wall clock.
    step_now: dt.datetime | None = None

    def can_extend(self, now: dt.datetime | None = None) -> bool:
        """Art. 12(3): once, and notified within the first month (lengthened by suspensions,
        the running one included)."""
        return self.extended_at is None and (now or timezone.now()) <= self.notice_by_now(now)

    def notice_by_now(self, now: dt.datetime | None = None) -> dt.datetime:
        """The notice date counting the days of a suspension still running."""
        if self.paused_since is None:
            return self.notice_by
        running = (self.local_date(now or timezone.now()) - self.local_date(self.paused_since)).days
        return self.controller.deadlines(
            self.right, self.received_at, paused_days=self.paused_days + max(running, 0)
        ).notice_by

    @transition(
        field=state,
        source=list(OPEN_STATES),
        target=RETURN_VALUE(*OPEN_STATES),
        conditions=[lambda case: case.can_extend(case.step_now)],
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

    @transition(field=state, source=State.IN_PROGRESS, target=State.READY)
    def answer_no_data(self, *, now: dt.datetime) -> None:
        """No data of the subject is held: that is the answer, a completed one (Art. 15(1),
        first limb), not a refusal. The response is written in the subject's language, then
        approved and sent like any other (complete)."""
        with translation.override(self.language):
            self.response = str(NO_DATA_RESPONSE)

    @transition(field=state, source=State.READY, target=State.IN_PROGRESS)
    def reopen(self, *, now: dt.datetime) -> None:
        pass

    @transition(field=state, source=State.READY, target=State.COMPLETED)
    def complete(
        self,
        *,
        now: dt.datetime,
        partial_ground: str = "",
        partial_reason: str = "",
        partial_evidence: str = "",
    ) -> None:
        if partial_ground:
            check_ground(
                right=self.right,
                ground=partial_ground,
                reason=partial_reason,
                evidence=partial_evidence,
                objection_to=self.objection_to,
                partial=True,
                country=self.controller.country,
            )
        elif partial_reason.strip():
            raise ValidationError(_("Choose the legal ground of the part refused."))
        self.partial_refusal = bool(partial_ground)
        self.refusal_ground = partial_ground
        self.refusal_reason = partial_reason if partial_ground else ""
        self.refusal_evidence = partial_evidence if partial_ground else ""
        self.closed_at = now

    @transition(field=state, source=list(OPEN_STATES), target=State.REFUSED)
    def refuse(self, *, now: dt.datetime, ground: str, reason: str, evidence: str = "") -> None:
        # The table of lawful grounds per right (cases.models.grounds), whoever calls.
        check_ground(
            right=self.right,
            ground=ground,
            reason=reason,
            evidence=evidence,
            objection_to=self.objection_to,
            country=self.controller.country,
        )
        self._resume(now)
        self.refusal_ground = ground
        self.refusal_reason = reason
        self.refusal_evidence = evidence
        self.closed_at = now

    @property
    def refusal_ground_label(self) -> str:
        """The ground as the subject and the record read it: Art. 23 names the country's law."""
        return ground_label(self.refusal_ground, self.controller.country)

    @transition(field=state, source=[State.UNCONFIRMED, *OPEN_STATES], target=State.WITHDRAWN)
    def withdraw(self, *, now: dt.datetime) -> None:
        self._resume(now)
        self.closed_at = now

    def _pause(self, now: dt.datetime, reason: str) -> None:
        """Suspend the clock for one of the lawful reasons (PauseReason), where the controller
        lets it pause at all."""
        if self.clock_pauses and self.paused_since is None:
            self.paused_since = now
            self.pause_reason = reason

    def _resume(self, now: dt.datetime) -> None:
        """Close a suspension: add the days from asking to receiving (local dates)."""
        if self.paused_since is None:
            return
        days = (self.local_date(now) - self.local_date(self.paused_since)).days
        Suspension.objects.create(
            case=self,
            started_at=self.paused_since,
            ended_at=now,
            days=max(days, 0),
            reason=self.pause_reason,
        )
        self.paused_days += max(days, 0)
        self.paused_since = None
        self.pause_reason = ""
        self.recompute_deadlines()


def _objection_parts(value: str) -> set[str]:
    if value == ObjectionTo.BOTH:
        return {ObjectionTo.DIRECT_MARKETING, ObjectionTo.PARTICULAR_SITUATION}
    return {value} if value else set()


def _zone(name: str) -> dt.tzinfo:
    return ZoneInfo(name)


class Suspension(models.Model):
    """A closed suspension of the clock, kept for the record (Art. 5(2))."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="suspensions")
    started_at = models.DateTimeField(_("information asked"))
    ended_at = models.DateTimeField(_("information received"))
    days = models.PositiveIntegerField(_("days added"))
    # PauseReason; "" for a suspension recorded before reasons were (read as "not recorded").
    reason = models.CharField(
        _("reason for the pause"), max_length=20, choices=PauseReason.choices, blank=True
    )

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.days} day(s) from {self.started_at:%Y-%m-%d}"


class Milestone(models.Model):
    """A reminder that was sent. The unique constraint is what makes "once" hold when two sweeps
    run at the same time or beat restarts: the second insert fails and sends nothing."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=30)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], name="one_milestone_a_kind")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class ReferenceCounter(models.Model):
    """The last number handed out in a year: references are DSAR-<year>-<number>."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
