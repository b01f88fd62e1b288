"""Mail out (a row first, sent after commit) and mail in (stored raw, processed once)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .case import Case, Language


class MailStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Carries(models.TextChoices):
    """What a mail to the subject carries that a deadline is judged by (Art. 12(3)-(4)): the
    decision (completion or refusal) or the extension notice. Its sent time is when that was
    communicated (``Case.decision_sent_at``, ``Case.extension_sent_at``)."""

    NOTHING = "", _("nothing a deadline is judged by")
    DECISION = "decision", _("the decision")
    EXTENSION = "extension", _("the extension notice")


class OutgoingMail(models.Model):
    """A message to send, created in the transaction that causes it and sent after commit.

    The send task locks the row and skips anything not queued, so a retry or a redelivered task
    cannot send twice (pretix's OutgoingMail pattern).
    """

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="outgoing_mail", null=True
    )
    to = models.EmailField(max_length=254)
    kind = models.CharField(max_length=40)
    carries = models.CharField(max_length=10, choices=Carries.choices, blank=True, default="")
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
    # What was sent, kept when it is sent, for the record (the auditor's case report): the
    # subject line and the text, the subject's private links and one-time codes withheld
    # (cases.mail.as_recorded). A template changed since does not change what the record says.
    record_subject = models.CharField(max_length=500, blank=True, editable=False)
    record_text = models.TextField(blank=True, editable=False)
    # What follows from its sending is recorded (cases.mail.follow_up): the decision it carries
    # communicated, a recipient told. False between the two transactions, or if the second
    # failed: the unsent-mail sweep does it then.
    followed_up = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="mail_status"),
            # The sweep's look for sent mail not followed up reads only those rows.
            models.Index(
                fields=["sent_at"], condition=models.Q(followed_up=False), name="mail_follow_up"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.status})"


class InboundMail(models.Model):
    """A message that reached a controller's privacy address, stored raw, processed once."""

    message_id = models.CharField(max_length=250, unique=True)
    received_at = models.DateTimeField()
    sender = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    raw = models.BinaryField()
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_mail"
    )
    # The controller whose privacy address (or case) the message reached: its officers see it,
    # also when it could not become a request (rejected, failed). None: unrouted.
    controller = models.ForeignKey(
        "controllers.Controller",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_mail",
    )
    # reply, new_request, unmatched (a reference from the wrong sender), unrouted (no
    # controller), rejected (no usable sender), failed (a fault of ours: see problem)
    outcome = models.CharField(max_length=20)
    problem = models.TextField(blank=True)

    class Meta:
        ordering = ["received_at"]
        verbose_name = _("incoming mail")
        verbose_name_plural = _("incoming mail")

    def __str__(self) -> str:
        return f"{self.message_id} ({self.outcome})"
