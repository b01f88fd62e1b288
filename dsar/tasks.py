"""Celery tasks. They take ids and re-read rows, so a late or repeated task does no harm."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import mail
from .mail import queue_mail
from .models import MailStatus, OutgoingMail, Request, State


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def send_mail(mail_id: int) -> bool:
    return mail.deliver(mail_id)


# A row younger than this is still on its normal path (published after commit); older and still
# queued means the broker was down or the task was lost, and the sweep publishes it again.
UNSENT_GRACE = dt.timedelta(seconds=60)


@shared_task(acks_late=True)
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
    return len(ids)


@shared_task(acks_late=True)
def expire_unconfirmed(batch: int = 500) -> int:
    """Close requests whose email was never confirmed within the link's 7 days.

    Expiry is what deletes the ID copy a never-confirmed request (a bot's, a typo's) came with.
    """
    from .links import CONFIRMATION_MAX_AGE
    from .workflow import Actor, StepNotAllowed, perform

    cutoff = timezone.now() - CONFIRMATION_MAX_AGE
    ids = list(
        Request.objects.filter(state=State.UNCONFIRMED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:batch]
    )
    expired = 0
    for pk in ids:
        try:
            perform(pk, "expire", actor=Actor.system())
            expired += 1
        except StepNotAllowed:
            pass  # confirmed or withdrawn since it was read: nothing to do
    return expired


CONFIRM_REMINDER_AFTER = dt.timedelta(hours=24)


@shared_task(acks_late=True)
def sweep_deadlines(batch: int = 1000) -> int:
    """Send the reminders that are due, each once (see dsar/reminders.py). Returns how many."""
    from .links import CONFIRMATION_MAX_AGE
    from .reminders import claim, process

    now = timezone.now()
    sent = 0
    due = (
        Request.objects.filter(next_milestone_at__lte=now)
        .order_by("next_milestone_at")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in list(due):
        sent += len(process(pk, now))
    # The subject who has not confirmed after a day gets one reminder with a fresh link.
    unconfirmed = Request.objects.filter(
        state=State.UNCONFIRMED,
        received_at__lte=now - CONFIRM_REMINDER_AFTER,
        received_at__gt=now - CONFIRMATION_MAX_AGE,
    ).exclude(milestones__kind="confirm_reminder")
    for request in unconfirmed.select_related("controller")[:batch]:
        with transaction.atomic():
            if claim(request, "confirm_reminder"):
                queue_mail(request, "confirm")
                sent += 1
    return sent
