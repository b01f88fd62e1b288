"""The beat's sweeps: expiry of unconfirmed cases, deadline reminders, confirmation reminders.

Each reads only what is due and re-reads every row it acts on, so a late, repeated or
overlapping sweep does no harm; after an outage the next sweep catches up.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from cases.actors import Actor
from cases.links import CONFIRMATION_MAX_AGE
from cases.mail import queue_mail
from cases.models import Case, State
from cases.workflow import StepNotAllowed, perform

from .sweep import claim, process


@shared_task(acks_late=True)
def expire_unconfirmed(batch: int = 500) -> int:
    """Close requests whose email was never confirmed within the link's 7 days.

    Expiry is what deletes the ID copy a never-confirmed request (a bot's, a typo's) came with.
    """
    cutoff = timezone.now() - CONFIRMATION_MAX_AGE
    ids = list(
        Case.objects.filter(state=State.UNCONFIRMED, received_at__lt=cutoff)
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
    """Send the reminders that are due, each once (see reminders.sweep). Returns how many."""
    now = timezone.now()
    sent = 0
    due = (
        Case.objects.filter(next_milestone_at__lte=now)
        .order_by("next_milestone_at")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in list(due):
        sent += len(process(pk, now))
    # The subject who has not confirmed after a day gets one reminder with a fresh link.
    unconfirmed = Case.objects.filter(
        state=State.UNCONFIRMED,
        received_at__lte=now - CONFIRM_REMINDER_AFTER,
        received_at__gt=now - CONFIRMATION_MAX_AGE,
    ).exclude(milestones__kind="confirm_reminder")
    for case in unconfirmed.select_related("controller")[:batch]:
        with transaction.atomic():
            if claim(case, "confirm_reminder"):
                queue_mail(case, "confirm")
                sent += 1
    return sent
