"""Deadline milestones: who is reminded of what, when, and exactly once.

Milestones of an open request (officers: the assignee, or every officer of the controller):
``halfway`` when half the period has gone, ``three_days`` three working days before the effective
deadline, ``due_today`` on its day, ``overdue`` after it (also to the controller's DPO), and
``notice_due`` three working days before the one-month date while no extension or refusal has been
sent. While the clock is paused nothing is pending: the deadline is about to move.

``Request.next_milestone_at`` holds the earliest pending one, so a sweep reads only due rows
through its index. A milestone is claimed by inserting its ``Milestone`` row in a savepoint; the
unique constraint lets exactly one of two concurrent sweeps through.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction

from controllers.models import Membership, Role

from .deadlines import working_days_before
from .mail import queue_mail
from .models import OPEN_STATES, Milestone, Request

OFFICER_MILESTONES = ("halfway", "three_days", "notice_due", "due_today", "overdue")


def schedule(request: Request) -> dict[str, dt.datetime]:
    """Each officer milestone of an open, running request and when it falls due."""
    if request.state not in OPEN_STATES or request.paused_since is not None:
        return {}
    country, tz = request.controller.country, request.controller.time_zone
    extra = request.controller.holiday_dates
    deadline = request.effective_deadline
    times = {
        "halfway": request.received_at + (deadline - request.received_at) / 2,
        "three_days": max(
            request.received_at,
            working_days_before(deadline, 3, country=country, tz=tz, extra_holidays=extra),
        ),
        "due_today": max(
            request.received_at,
            deadline.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0),
        ),
        "overdue": deadline,
    }
    if request.extended_at is None and not request.refusal_ground:
        times["notice_due"] = max(
            request.received_at,
            working_days_before(request.notice_by, 3, country=country, tz=tz, extra_holidays=extra),
        )
    return times


def next_due(request: Request, sent: set[str] | None = None) -> dt.datetime | None:
    if sent is None:
        sent = set(request.milestones.values_list("kind", flat=True)) if request.pk else set()
    pending = [when for kind, when in schedule(request).items() if kind not in sent]
    return min(pending) if pending else None


def officer_addresses(request: Request, kind: str) -> list[str]:
    if request.assigned_to_id and request.assigned_to.email:
        addresses = [request.assigned_to.email]
    else:
        addresses = sorted(
            Membership.objects.filter(controller=request.controller, role=Role.OFFICER)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    if kind == "overdue" and request.controller.dpo_email:
        addresses.append(request.controller.dpo_email)
    return addresses


def claim(request: Request, kind: str) -> bool:
    """Record the milestone; False if another sweep already did (the unique constraint)."""
    try:
        with transaction.atomic():
            Milestone.objects.create(request=request, kind=kind)
    except IntegrityError:
        return False
    return True


def process(request_id: int, now: dt.datetime) -> list[str]:
    """Send what is due for one request; returns the milestones this call sent."""
    sent_now: list[str] = []
    with transaction.atomic():
        request = (
            Request.objects.select_for_update(of=("self",))
            .select_related("controller", "assigned_to")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            return sent_now
        done = set(request.milestones.values_list("kind", flat=True))
        for kind, when in sorted(schedule(request).items(), key=lambda item: item[1]):
            if kind in done or when > now:
                continue
            if claim(request, kind):
                done.add(kind)
                sent_now.append(kind)
                for address in officer_addresses(request, kind):
                    queue_mail(request, "officer_reminder", to=address, milestone=kind)
        request.next_milestone_at = next_due(request, done)
        request.save(update_fields=["next_milestone_at"])
    return sent_now
