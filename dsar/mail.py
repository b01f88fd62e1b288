"""Outgoing mail: a database row first, sent by a Celery task after the transaction commits.

``queue_mail`` is called inside the transaction that causes the message; if that transaction rolls
back, neither the row nor the task exists. If the broker is down at commit, the row stays queued
and the unsent-mail sweep sends it later: nothing is lost, nothing is sent twice (the task locks
the row and skips anything not queued).

Templates live in ``templates/emails/<kind>/`` as ``subject.txt``, ``body.txt`` and ``body.html``,
rendered in the request's language. They receive the request, its controller and the row's
context; user text reaches them only as variables, escaped in HTML, and headers are built from
the reference alone, never from user text.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import make_msgid
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import MailStatus, OutgoingMail, Request

log = logging.getLogger(__name__)


def queue_mail(
    request: Request, kind: str, *, to: str | None = None, **context: Any
) -> OutgoingMail:
    mail = OutgoingMail.objects.create(
        request=request,
        to=to or request.email,
        kind=kind,
        language=request.language,
        context=context,
    )
    transaction.on_commit(partial(_enqueue, mail.pk))
    return mail


def _enqueue(mail_id: int) -> None:
    from .tasks import send_mail

    try:
        send_mail.delay(mail_id)
    except Exception:
        log.warning(
            "broker unavailable; mail %s stays queued for the sweep", mail_id, exc_info=True
        )


def render(mail: OutgoingMail) -> EmailMultiAlternatives:
    from .links import confirmation_url, status_url

    request = mail.request
    context = {
        **mail.context,
        "request": request,
        "controller": request.controller if request else None,
        "status_url": status_url(request) if request else "",
        "site_url": settings.SITE_URL,
    }
    if mail.kind == "confirm" and request is not None:
        # Signed at sending time: the 7 days run from when the subject can see the link.
        context["confirmation_url"] = confirmation_url(request)
    with translation.override(mail.language):
        subject = render_to_string(f"emails/{mail.kind}/subject.txt", context)
        text = render_to_string(f"emails/{mail.kind}/body.txt", context)
        html = render_to_string(f"emails/{mail.kind}/body.html", context)
    # One line, whatever a template does: no header can be injected through the subject.
    subject = " ".join(subject.split())
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [mail.to])
    message.attach_alternative(html, "text/html")
    if request is not None:
        message.extra_headers["X-DSAR-Reference"] = request.reference
    message.extra_headers["Message-ID"] = mail.message_id_header or make_msgid(domain="dsar")
    return message


def deliver(mail_id: int) -> bool:
    """Send one queued row exactly once. Returns whether this call sent it."""
    with transaction.atomic():
        mail = (
            OutgoingMail.objects.select_for_update(of=("self",))
            .select_related("request__controller")
            .filter(pk=mail_id)
            .first()
        )
        if mail is None or mail.status != MailStatus.QUEUED:
            return False
        mail.attempts += 1
        if not mail.message_id_header:
            mail.message_id_header = make_msgid(domain="dsar")
        message = render(mail)
        message.send()
        status = getattr(message, "anymail_status", None)
        mail.provider_message_id = (getattr(status, "message_id", None) or "")[:200]
        mail.status = MailStatus.SENT
        mail.sent_at = timezone.now()
        mail.save(
            update_fields=[
                "attempts",
                "provider_message_id",
                "status",
                "sent_at",
                "message_id_header",
            ]
        )
    return True


# Provider events that say the subject did not get the mail.
UNDELIVERED = {"bounced", "rejected", "failed", "complained"}


def record_delivery(
    *, message_id: str, event_type: str, esp_name: str, timestamp: dt.datetime | None
) -> bool:
    """Apply a provider's tracking event to its mail row, once; returns whether it changed it.

    Called from anymail's tracking signal (dsar/apps.py). A bounce or rejection flags the request
    for the officer; every change is a CaseEvent, so the mail's fate is part of the record.
    """
    from .audit import note
    from .workflow import Actor

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
        request = mail.request
        if request is None:
            return True
        if event_type in UNDELIVERED and mail.to == request.email:
            Request.objects.filter(pk=request.pk).update(mail_bounced=True)
        note(
            request,
            actor=Actor.system(),
            action=f"mail_{event_type}",
            at=timezone.now(),
            data={"mail": mail.pk, "kind": mail.kind, "to": mail.to, "provider": esp_name},
        )
    return True
