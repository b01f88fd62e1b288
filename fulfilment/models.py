"""Fulfilment's own tables: the search of each system for a case, what the officer withheld, the
package built from it, and the one-time codes before each download.

Every step of these is also an event in the case's audit trail (``cases.audit.note``); these
rows hold the working state (progress, retries, keys), the trail holds the record.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case
from controllers.models import System, SystemKind


class SearchStatus(models.TextChoices):
    PENDING = "pending", _("waiting to run")
    RUNNING = "running", _("searching")
    REMOTE = "remote", _("waiting for the processor")
    MANUAL = "manual", _("waiting for a manual answer")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")


class Job(models.Model):
    """What a search of a system and a change to a system share: the system as it was named when
    the work started, the worker's lease and retries (``fulfilment.systems.jobs``), a processor's
    request, and an officer's answer or skip."""

    system = models.ForeignKey(System, on_delete=models.SET_NULL, null=True, blank=True)
    # Kept as they were when the work started: the registry may change or drop the system.
    system_name = models.CharField(max_length=50)
    system_title = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=SystemKind.choices)
    attempts = models.PositiveIntegerField(default=0)
    # When the next try (or poll of a processor) is due; null while none is.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A worker holds running work until then; past it, the work is taken up again.
    lease_until = models.DateTimeField(null=True, blank=True)
    warnings = models.JSONField(default=list)
    error = models.TextField(blank=True)
    # An HTTP system's request, as the processor knows it.
    remote_id = models.CharField(max_length=100, blank=True)
    remote_status = models.CharField(max_length=30, blank=True)
    # A manual answer, or a skip: who, when, what.
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_note = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The statuses in which the work lets the case go on.
    SETTLED: tuple[str, ...] = ("done", "skipped")

    class Meta:
        abstract = True

    @property
    def settled(self) -> bool:
        return self.status in self.SETTLED  # type: ignore[attr-defined]

    @property
    def remote_label(self) -> str:
        """What the processor last said of its request, in a sentence ("" before it said
        anything): its own word, as it said it."""
        if not self.remote_status:
            return ""
        return str(_("The processor reports: %(status)s") % {"status": self.remote_status})


class Search(Job):
    """One system searched for one case's subject."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="searches")
    status = models.CharField(
        max_length=10, choices=SearchStatus.choices, default=SearchStatus.PENDING
    )
    # The identity kinds searched by (values come from the case, never stored twice).
    identities = models.JSONField(default=list)
    run_id = models.CharField(max_length=32, blank=True)  # the finished run's folder
    wrapped_key = models.BinaryField(null=True, blank=True)
    counts = models.JSONField(default=dict)  # rows found, by table
    file_count = models.PositiveIntegerField(default=0)
    # Set by whoever creates it, from the step's clock (a demo history sets it back).
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "system_name"], name="one_search_a_system")
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.system_name}: {self.status}"

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


class Withholding(models.Model):
    """Part of what was found that the subject will not get (e.g. another person's data, Art.
    15(4)): one record of a table, one field of every record, or one field of one record."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="withholdings")
    system_name = models.CharField(max_length=50)
    table = models.CharField(max_length=63)
    record = models.CharField(max_length=200, blank=True)  # the row's key; "" every row
    column = models.CharField(max_length=63, blank=True)  # "" the whole record
    reason = models.TextField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.system_name}.{self.table}[{self.record or '*'}].{self.column or '*'}"


class PackageStatus(models.TextChoices):
    BUILDING = "building", _("being built")
    READY = "ready", _("ready for release")
    FAILED = "failed", _("could not be built")
    RELEASED = "released", _("released to the subject")
    REVOKED = "revoked", _("withdrawn by an officer")
    EXPIRED = "expired", _("expired and deleted")
    SUPERSEDED = "superseded", _("replaced by a newer package")


class Package(models.Model):
    """The ZIP the subject downloads, sealed at rest with its own key."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="packages")
    status = models.CharField(
        max_length=10, choices=PackageStatus.choices, default=PackageStatus.BUILDING
    )
    kind = models.CharField(max_length=20)  # access or portability
    file_name = models.CharField(max_length=64, blank=True)
    wrapped_key = models.BinaryField(null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)  # of the ZIP as the subject gets it
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    file_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    built_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)  # revoked or expired
    downloads = models.PositiveIntegerField(default=0)
    # Set by whoever creates it, from the step's clock (a demo history sets it back).
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "-pk"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.kind} {self.status}"


class DownloadCode(models.Model):
    """A one-time code mailed before a download: only its keyed hash is kept."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    tries_left = models.PositiveSmallIntegerField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"code for package {self.package_id}"


# --- The rights that change data: erasure, restriction, rectification, objection, withdrawal.


class Correction(models.Model):
    """One field the subject wants corrected (Art. 16), as an officer approved it: the new
    value only goes to a column the systems file declares rectifiable."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="corrections")
    system_name = models.CharField(max_length=50)
    table = models.CharField(max_length=63)
    column = models.CharField(max_length=63)
    value = models.TextField()  # what it should be, as the subject stated it
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "system_name", "table", "column"], name="one_correction_a_field"
            )
        ]

    def __str__(self) -> str:
        return f"{self.system_name}.{self.table}.{self.column}"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("waiting for approval")
    APPROVED = "approved", _("approved")
    SUPERSEDED = "superseded", _("replaced by a newer plan")


class Plan(models.Model):
    """What a right will do in each system (the dry run), approved by an officer before
    anything runs. ``body`` is hashed; the approval's event carries the hash."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="plans")
    purpose = models.CharField(max_length=20)  # the right, or "lift" (lifting a restriction)
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    body = models.JSONField()
    sha256 = models.CharField(max_length=64)
    made_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "-pk"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.purpose} plan {self.sha256[:12]} ({self.status})"


class ChangeStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    PENDING = "pending", _("waiting to run")
    RUNNING = "running", _("running")
    REMOTE = "remote", _("waiting for the processor")
    MANUAL = "manual", _("waiting for the owner's confirmation")
    # Done: how it was established depends on the system (searched again, confirmed by an
    # officer, reported by the processor): ``fulfilment.changes.execute.evidence`` says which.
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")
    # Its plan was replaced before it ran (or while it waited or had failed): never run.
    SUPERSEDED = "superseded", _("replaced by a newer plan")


class Change(Job):
    """One approved plan carried out in one system: run, retried and verified like a search."""

    SETTLED = ("done", "skipped", "superseded")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="changes")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="changes")
    status = models.CharField(
        max_length=10, choices=ChangeStatus.choices, default=ChangeStatus.PENDING
    )
    # The subject's rows the change covered, by table (the approved plan's counts, verified);
    # of an objection's or a withdrawal's, those that had stopped already (``already``) were
    # left as they were: ``fulfilment.changes.completion.changed_rows`` counts them out.
    counts = models.JSONField(default=dict)
    files_deleted = models.PositiveIntegerField(default=0)
    # Read before the change and kept, so a run that dies after the system's commit still
    # removes the files and records what it replaced: the files the changed rows name (paths
    # inside the system's folder) and, for a rectification, the SHA-256 of each old value.
    files = models.JSONField(default=list)
    before = models.JSONField(default=dict)
    # A manual task's answer, as the officer recorded the owner's: True the subject's data were
    # there and the owner did as asked, False none was there; None before this was asked.
    found = models.BooleanField(null=True, blank=True)
    # What a processor answered when it reported the request completed (its own words).
    reported = models.JSONField(default=dict, blank=True)
    # An erasure's rows kept under a ground whose link to the subject it cut (their identity or
    # their link to a parent emptied): their keys, by table, never their values. A later
    # access or portability request of the same subject finds them by these keys.
    kept = models.JSONField(default=dict, blank=True)
    # An objection's or a withdrawal's rows whose processing had stopped already when the
    # change first ran (read before it wrote, as the plan's dry run reads them): per table
    # ``{"rows", "since": [days]}``; left as they were, so they are not said stopped now. None
    # before it ran (or for a change recorded before this was kept: the plan's figure then).
    already = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["case", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "system_name"], name="one_run_a_system")
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.system_name}: {self.status}"

    @property
    def entry(self) -> dict[str, Any]:
        """The system as the change's own plan describes it (its title and kind at least,
        should the plan not name it)."""
        return next(
            (s for s in self.plan.body["systems"] if s["system"] == self.system_name),
            {"system": self.system_name, "title": self.system_title, "kind": self.kind},
        )


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("to be sent")
    # Its mail is queued: told once the mail has left (cases.extensions.mail_fate).
    MAILING = "mailing", _("being mailed")
    SENT = "sent", _("told")
    ANSWERED = "answered", _("answered")
    # Something it received was changed, and nothing declared says how to tell it (or whether
    # it received the subject's data at all): the officer decides, and "prepare the response"
    # waits for it.
    UNRESOLVED = "unresolved", _("waiting for the officer")
    # Not told: an exception of Art. 19 (``exception``), nothing of the subject's was changed,
    # or the plan was replaced (``reason``).
    UNREACHABLE = "unreachable", _("not told (reason recorded)")
    # None of the subject's data was disclosed to it: not a recipient of them (Art. 19).
    NOT_DISCLOSED = "not_disclosed", _("none of the subject's data disclosed to it")


class NoticeException(models.TextChoices):
    """The two exceptions of Art. 19, under which a recipient is not told."""

    IMPOSSIBLE = "impossible", _("it proves impossible")
    DISPROPORTIONATE = "disproportionate_effort", _("it involves a disproportionate effort")


class Notice(models.Model):
    """Art. 19: one recipient of the subject's data told of what a right changed in them
    (rectification, erasure, restriction; an objection or a withdrawal of consent that deleted
    or changed data), or why not: an exception of Art. 19 in the controller's or the officer's
    words, nothing of the subject's changed, or none of it disclosed to this recipient.

    ``reason`` is our own text (kept in English, read in the reader's language); ``note`` is
    someone's words, quoted as such: the controller's (its systems file) or the officer's (who
    decided, ``decided_by`` at ``decided_at``: an address given, told another way, an
    exception, or no disclosure)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notices")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="notices")
    recipient = models.CharField(max_length=300)
    # The policy's kind of recipient: a processor is instructed (Art. 28(3)), an independent
    # controller asked.
    kind = models.CharField(max_length=20, blank=True)
    channel = models.CharField(max_length=10)  # email, system, other (told otherwise), none
    address = models.EmailField(max_length=254, blank=True)
    system_name = models.CharField(max_length=50, blank=True)
    status = models.CharField(
        max_length=20, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    reason = models.TextField(blank=True)  # why it was not told, or waits for the officer
    exception = models.CharField(max_length=30, choices=NoticeException.choices, blank=True)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    mail = models.ForeignKey(
        "dsar.OutgoingMail", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "pk"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.recipient} ({self.status})"

    @property
    def told(self) -> bool:
        return self.status in (NoticeStatus.SENT, NoticeStatus.ANSWERED)

    @property
    def how(self) -> str:
        """How a recipient that was told was told ("" while it is not): ``email`` (a mail to
        its address), ``system`` (the request made to its processor's system; a processor's
        address is written to only for what its API was not asked), or ``other`` (the officer
        recorded how)."""
        if not self.told:
            return ""
        if self.mail_id or self.channel == "email":
            return "email"
        return self.channel if self.channel in ("system", "other") else ""


class LetterSupplement(models.Model):
    """What an officer supplied for the access letter where the statement (and the registry) is
    silent on an item the letter needs (Art. 15(1): a purpose, a legal basis, a retention, a
    source, a recipient's identity or whereabouts, whether automated decisions are taken, whether
    the subject's data went to a recipient that receives data only on occasion). Silence is
    never the answer: the response waits until every item is supplied (``searches.letter``).

    Supplied for one case (``case``), and with ``reuse`` kept for the controller: the next
    request of that controller in the same language takes it without asking. The latest supply
    of a key wins; each is also an event of the case's chain ("letter_item_supplied")."""

    controller = models.ForeignKey(
        "controllers.Controller", on_delete=models.CASCADE, related_name="letter_supplements"
    )
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="letter_supplements"
    )
    # What is supplied: "category:<name>:purposes", "recipient:<name>:identity", ...
    key = models.CharField(max_length=800)
    # The letter's language it was written in: reused only for letters in that language.
    language = models.CharField(max_length=10)
    # "none": the officer's answer is "none" (no automated decisions, nothing disclosed);
    # otherwise the text says it.
    choice = models.CharField(max_length=10, blank=True)
    text = models.TextField(blank=True)
    reuse = models.BooleanField(_("reused for the next requests"), default=False)
    # When an officer stopped its reuse (the admin): a letter prepared before then keeps it,
    # since the response it is part of was approved with it.
    reuse_stopped_at = models.DateTimeField(_("reuse stopped"), null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        verbose_name = _("supplement to the access letter")
        verbose_name_plural = _("supplements to the access letter")
        indexes = [models.Index(fields=["controller", "key"], name="supplement_by_key")]

    def __str__(self) -> str:
        return f"{self.controller_id}:{self.key}"

    @property
    def per_request(self) -> bool:
        """Whether the item is checked for each request (whether this subject's data went to a
        recipient that receives data only on occasion, and where; whether declared automated
        decisions were taken about this subject): never reused for another."""
        return ":disclosed" in self.key or self.key == "automated:subject"
