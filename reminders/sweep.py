"""Deadline milestones: who is reminded of what, when, and exactly once.

Milestones of an open case (when each falls due: ``legalclock.milestones``): ``halfway``,
``three_days``, ``due_today``, ``overdue`` (also to the controller's DPO) and ``notice_due`` while
no extension or refusal has been sent; ``decision_unsent`` when a decision's deadline passes
with its mail not sent (or not arrived), also recorded as an event of the case. Who is told:
``controllers.access.reminder_addresses``.

``Case.next_milestone_at`` holds the earliest pending one, so a sweep reads only due rows
through its index. A milestone is claimed by inserting its ``Milestone`` row in a savepoint; the
unique constraint lets exactly one of two concurrent sweeps through.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from cases.actors import Actor
from cases.audit import record_event
from cases.mail import queue_mail
from cases.models import DECISION_UNSENT, Case, Milestone
from controllers.access import reminder_addresses


def claim(case: Case, kind: str) -> bool:
    """Record the milestone; False if another sweep already did (the unique constraint)."""
    try:
        with transaction.atomic():
            Milestone.objects.create(case=case, kind=kind)
    except IntegrityError:
        return False
    return True


def process(case_id: int, now: dt.datetime) -> list[str]:
    """Send what is due for one case; returns the milestones this call sent."""
    sent_now: list[str] = []
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("controller", "assigned_to")
            .filter(pk=case_id)
            .first()
        )
        if case is None:
            return sent_now
        done = set(case.milestones.values_list("kind", flat=True))
        for kind, when in sorted(case.milestone_schedule().items(), key=lambda item: item[1]):
            if kind in done or when > now:
                continue
            if claim(case, kind):
                done.add(kind)
                sent_now.append(kind)
                if kind == DECISION_UNSENT:
                    # The record says it: the deadline passed with the decision not
                    # communicated (the case report judges as of its last event).
                    record_event(
                        case,
                        actor=Actor.system(),
                        action=DECISION_UNSENT,
                        from_state=case.state,
                        to_state=case.state,
                        at=now,
                        data={"due": when.isoformat()},
                    )
                addresses = reminder_addresses(
                    case.controller, assignee=case.assigned_to, overdue=kind == "overdue"
                )
                for address in addresses:
                    queue_mail(case, "officer_reminder", to=address, milestone=kind)
        case.next_milestone_at = case.next_milestone(done)
        case.save(update_fields=["next_milestone_at"])
    return sent_now
