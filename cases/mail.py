"""Outgoing mail: a database row first, sent by a Celery task after the transaction commits.

``queue_mail`` is called inside the transaction that causes the message; if that transaction rolls
back, neither the row nor the task exists. If the broker is down at commit, the row stays queued
and the unsent-mail sweep sends it later: nothing is lost, nothing is sent twice (the task locks
the row and skips anything not queued).

A context key starting with ``secret_`` (a one-time code) is dropped from the row once the mail
is sent. Templates live in ``templates/emails/<kind>/`` as ``subject.txt``, ``body.txt`` and
``body.html``, rendered in the request's language. They receive the request, its controller
and the row's context; user text reaches them only as variables, escaped in HTML, and headers
are built from the reference alone, never from user text.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import make_msgid
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from controllers.validators import has_control_characters

from .actors import Actor
from .audit import note
from .extensions import mail_fate
from .links import confirmation_url, status_url
from .models import Carries, Case, MailStatus, OutgoingMail
from .steps import STEPS

log = logging.getLogger(__name__)


# The subject's mails that ask for an answer (a question, a message from the officer): a reply
# by mail goes to the controller's privacy address, where mail in attaches it to the case.
ASKS_ANSWER = frozenset({"question", "message"})


def queue_mail(
    case: Case,
    kind: str,
    *,
    to: str | None = None,
    language: str = "",
    carries: str = "",
    at: dt.datetime | None = None,
    reply_to_controller: bool = False,
    **context: Any,
) -> OutgoingMail:
    """Queue one mail about ``case``: to its subject in their language, or ``to`` another
    address (an officer, a system's owner, a recipient) in ``language`` when given. ``carries``
    marks the subject's mail that carries the decision or the extension notice (``Carries``):
    when it is sent, the case records that it was communicated. ``at``: when it was written
    (the step's moment; default now). A mail that asks for an answer (``reply_to_controller``,
    or a kind in ``ASKS_ANSWER``) carries the controller's privacy address (its policy's first)
    as Reply-To, kept on the row: the answer reaches the case through mail in, not the sending
    address."""
    if carries and to not in (None, case.email):
        raise ValueError("only the subject's own mail carries a decision")
    if (reply_to_controller or kind in ASKS_ANSWER) and case.controller.privacy_emails:
        context["reply_to"] = case.controller.privacy_emails[0]
    mail = OutgoingMail.objects.create(
        case=case,
        to=to or case.email,
        kind=kind,
        carries=carries,
        language=language or case.language,
        context=context,
        created_at=at or timezone.now(),
    )
    transaction.on_commit(partial(_enqueue, mail.pk))
    return mail


def _enqueue(mail_id: int) -> None:
    try:
        send_mail.delay(mail_id)
    except Exception:
        log.warning(
            "broker unavailable; mail %s stays queued for the sweep", mail_id, exc_info=True
        )


def _context(mail: OutgoingMail, *, withheld: str = "") -> dict[str, Any]:
    """What the mail's templates receive. With ``withheld``, every private link and one-time
    code shows as that text instead (the record of a mail, read by others than its recipient)."""
    case = mail.case
    context = {
        **mail.context,
        "case": case,
        "controller": case.controller if case else None,
        "status_url": (withheld or status_url(case)) if case else "",
        "site_url": settings.SITE_URL,
    }
    if "step" in mail.context and mail.context["step"] in STEPS:
        # An officer notice names what the subject did, in the words of the steps table.
        context["notice"] = STEPS[mail.context["step"]].officer_notice
    if mail.kind == "confirm" and case is not None:
        # Signed at sending time: the 7 days run from when the subject can see the link.
        context["confirmation_url"] = withheld or confirmation_url(case)
    if withheld:
        context.update({k: withheld for k in mail.context if k.startswith("secret_")})
    return context


def render(mail: OutgoingMail) -> EmailMultiAlternatives:
    context = _context(mail)
    with translation.override(mail.language):
        subject = render_to_string(f"emails/{mail.kind}/subject.txt", context)
        text = render_to_string(f"emails/{mail.kind}/body.txt", context)
        html = render_to_string(f"emails/{mail.kind}/body.html", context)
    # One line, whatever a template does: no header can be injected through the subject.
    subject = " ".join(subject.split())
    reply_to = str(mail.context.get("reply_to") or "")
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [mail.to],
        # An address from the policy (validated on load); none with a control character.
        reply_to=[reply_to] if reply_to and not has_control_characters(reply_to) else None,
    )
    message.attach_alternative(html, "text/html")
    if mail.case is not None:
        message.extra_headers["X-DSAR-Reference"] = mail.case.reference
    message.extra_headers["Message-ID"] = mail.message_id_header or make_msgid(domain="dsar")
    return message


def as_recorded(mail: OutgoingMail, *, body: bool = True) -> tuple[str, str]:
    """The subject line and (with ``body``) the text of a mail as its recipient read it, for
    the record (the auditor's case report): kept on the row when it is sent, rendered from the
    row before. The subject's private links (the status page, the confirmation) and one-time
    codes show as a placeholder: whoever holds such a link can act as the subject, and a record
    is read and filed by others."""
    if mail.record_subject:
        return mail.record_subject, mail.record_text if body else ""
    with translation.override(mail.language):
        withheld = _("[private link or code of the subject, not shown]")
        context = _context(mail, withheld=withheld)
        subject = render_to_string(f"emails/{mail.kind}/subject.txt", context)
        text = render_to_string(f"emails/{mail.kind}/body.txt", context) if body else ""
    return " ".join(subject.split()), text


# What the case records when the mail carrying each reaches the subject: its column, its event.
COMMUNICATED = {
    Carries.DECISION: ("decision_sent_at", "decision_sent"),
    Carries.EXTENSION: ("extension_sent_at", "extension_sent"),
}
# Provider reports that the recipient did not receive a mail (a complaint means it arrived).
NOT_RECEIVED = frozenset({"bounced", "rejected", "failed"})
# ... and those after which the subject's address needs the officer's eye (a complaint too).
UNDELIVERED = NOT_RECEIVED | {"complained"}


def deliver(mail_id: int, *, now: dt.datetime | None = None) -> bool:
    """Send one queued row exactly once. Returns whether this call sent it. ``now``: the moment
    it is sent (the demo's history sends its mail at the time it was written).

    The row is marked sent in the transaction that sends it, and nothing else happens in it:
    what the case records of the sending (a decision communicated, a recipient told) follows in
    a transaction of its own (``follow_up``), so that a failure there can never roll back the
    record of a mail that has left (the sweep would send it again). The sweep follows up what a
    failure left undone."""
    with transaction.atomic():
        mail = (
            OutgoingMail.objects.select_for_update(of=("self",))
            .select_related("case__controller")
            .filter(pk=mail_id)
            .first()
        )
        if mail is None or mail.status != MailStatus.QUEUED:
            return False
        if has_control_characters(mail.to):
            # Every form refuses such an address; should one get here, no header carries it.
            mail.status, mail.last_error = MailStatus.FAILED, "control characters in the address"
            mail.save(update_fields=["status", "last_error"])
            return False
        mail.attempts += 1
        if not mail.message_id_header:
            mail.message_id_header = make_msgid(domain="dsar")
        message = render(mail)
        mail.record_subject, mail.record_text = as_recorded(mail)
        message.send()
        status = getattr(message, "anymail_status", None)
        mail.provider_message_id = (getattr(status, "message_id", None) or "")[:200]
        mail.status = MailStatus.SENT
        mail.sent_at = now or timezone.now()
        mail.followed_up = False  # follow_up records what follows, next
        # A one-time secret a mail carries (a download code) is not kept once it is sent.
        mail.context = {k: v for k, v in mail.context.items() if not k.startswith("secret_")}
        mail.save(
            update_fields=[
                "attempts",
                "provider_message_id",
                "status",
                "sent_at",
                "message_id_header",
                "context",
                "record_subject",
                "record_text",
                "followed_up",
            ]
        )
    try:
        follow_up(mail_id)
    except Exception:  # left for the sweep: the mail has gone, and that stays recorded
        log.exception("mail %s was sent; what follows from it is left for the sweep", mail_id)
    return True


def follow_up(mail_id: int) -> bool:
    """Record what follows from a sent mail, once: the decision or extension notice it carries
    reached the subject (the case's column and an event), and the rooms above hear of it
    (``extensions.mail_fate``: a recipient's notice is told). Returns whether this call did."""
    with transaction.atomic():
        mail = (
            OutgoingMail.objects.select_for_update(of=("self",))
            .select_related("case__controller")
            .filter(pk=mail_id, status=MailStatus.SENT, followed_up=False)
            .first()
        )
        if mail is None:
            return False
        if mail.carries and mail.case is not None:
            _communicated(mail)
        mail_fate.send(sender=OutgoingMail, mail=mail, outcome="sent")
        OutgoingMail.objects.filter(pk=mail.pk).update(followed_up=True)
    return True


def _communicated(mail: OutgoingMail) -> None:
    """The decision or extension notice this mail carries has left. It is communicated once
    every mail that carries it has left and none was reported undelivered (a completion of a
    right that changed data goes as the response and as the letter): the case says when (the
    last one's sent time), once, and the record has it as an event (the case report judges the
    deadline by it)."""
    column, action = COMMUNICATED[Carries(mail.carries)]
    case = mail.case
    assert case is not None and mail.sent_at is not None
    carriers = OutgoingMail.objects.filter(case=case, carries=mail.carries)
    if carriers.exclude(status=MailStatus.SENT).exists():
        return  # another part of it has not left yet
    if carriers.filter(delivery_status__in=NOT_RECEIVED).exists():
        return  # a part of it did not arrive
    last = max(carriers.values_list("sent_at", flat=True))
    if Case.objects.filter(pk=case.pk, **{f"{column}__isnull": True}).update(**{column: last}):
        note(
            case,
            actor=Actor.system(),
            action=action,
            at=last,
            data={"kind": mail.kind, "to": mail.to, "mail": mail.pk},
        )
        _reschedule(case.pk)


def _reschedule(case_id: int) -> None:
    """The reminders' next moment, after the decision's sending changed (cases.models.Case:
    a decision not communicated by its deadline is a milestone of its own)."""
    case = Case.objects.select_related("controller").get(pk=case_id)
    Case.objects.filter(pk=case_id).update(next_milestone_at=case.next_milestone())


@shared_task(
    name="cases.send_mail",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def send_mail(mail_id: int) -> bool:
    """Send one mail row (by id: a late or repeated task re-reads it and does no harm)."""
    return deliver(mail_id)


# A row younger than this is still on its normal path (published after commit); older and still
# queued means the broker was down or the task was lost, and the sweep publishes it again.
UNSENT_GRACE = dt.timedelta(seconds=60)


@shared_task(name="cases.resend_unsent_mail", acks_late=True)
def resend_unsent_mail(batch: int = 500) -> int:
    """Publish again every queued mail older than the grace period. Safe to overlap with itself
    and with the normal path: ``deliver`` sends a row once, whoever gets it first."""
    cutoff = timezone.now() - UNSENT_GRACE
    ids = list(
        OutgoingMail.objects.filter(status=MailStatus.QUEUED, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:batch]
    )
    for mail_id in ids:
        send_mail.delay(mail_id)
    # Sent, but what follows from it was not recorded (its transaction failed): done here.
    for mail_id in OutgoingMail.objects.filter(
        followed_up=False, status=MailStatus.SENT, sent_at__lt=cutoff
    ).values_list("pk", flat=True)[:batch]:
        follow_up(mail_id)
    return len(ids)


def record_delivery(
    *, message_id: str, event_type: str, esp_name: str, timestamp: dt.datetime | None
) -> bool:
    """Apply a provider's tracking event to its mail row, once; returns whether it changed it.

    Called from anymail's tracking signal (``on_tracking``). A bounce or rejection flags the request
    for the officer; every change is a CaseEvent, so the mail's fate is part of the record.
    """
    if not message_id:
        return False
    with transaction.atomic():
        mail = (
            OutgoingMail.objects.select_for_update(of=("self",))
            .filter(provider_message_id=message_id)
            .first()
        )
        if mail is None or mail.delivery_status == event_type:
            return False  # not ours, or a repeated webhook
        mail.delivery_status = event_type
        mail.delivery_updated_at = timestamp or timezone.now()
        mail.save(update_fields=["delivery_status", "delivery_updated_at"])
        case = mail.case
        if case is None:
            return True
        if event_type in UNDELIVERED and mail.to == case.email:
            Case.objects.filter(pk=case.pk).update(mail_bounced=True)
        if event_type in NOT_RECEIVED and mail.carries:
            # What it carried did not reach the subject: not communicated after all.
            column, _action = COMMUNICATED[Carries(mail.carries)]
            Case.objects.filter(pk=case.pk).update(**{column: None})
            _reschedule(case.pk)
        if event_type in NOT_RECEIVED:
            mail_fate.send(sender=OutgoingMail, mail=mail, outcome="undelivered")
        note(
            case,
            actor=Actor.system(),
            action=f"mail_{event_type}",
            at=timezone.now(),
            data={"mail": mail.pk, "kind": mail.kind, "to": mail.to, "provider": esp_name},
        )
    return True


def on_tracking(sender: object, event: object, esp_name: str, **kwargs: object) -> None:
    """anymail's tracking signal (connected in cases.apps): a thin adapter to record_delivery."""
    record_delivery(
        message_id=getattr(event, "message_id", "") or "",
        event_type=str(getattr(event, "event_type", "")),
        esp_name=esp_name,
        timestamp=getattr(event, "timestamp", None),
    )
