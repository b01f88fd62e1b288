"""Read-side selectors: everything a page (or a report) shows of a case, gathered in one place.

``case_file`` returns what the officer's case page shows, already in human terms (labels, not
codes), scoped to what the user may see; the auditor's PDF report reads the same. Nothing here
changes anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from controllers.access import is_officer

from . import events
from .actors import Actor
from .audit import verify_chain
from .models import (
    DECIDED_STATES,
    FINAL_STATES,
    OPEN_STATES,
    Case,
    CaseEvent,
    IdDocument,
    Message,
    OutgoingMail,
    Suspension,
)
from .steps import STEPS, Step
from .workflow import available_steps

# Decided, but the mail that carries the decision has not reached the subject.
UNSENT = Q(state__in=DECIDED_STATES, decision_sent_at__isnull=True)


def deadline_badge(case: Case, now: dt.datetime) -> tuple[str, str]:
    """(level, text) for the time left: overdue, amber under a quarter of the period, ok. A
    decision not yet communicated is red once its deadline has passed, amber before."""
    if case.decision_unsent:
        level = "overdue" if now > case.effective_deadline else "amber"
        return level, _("decided, not yet sent")
    if case.state in FINAL_STATES:
        return "closed", "—"
    left = case.effective_deadline - now
    period = case.effective_deadline - case.received_at
    if left.total_seconds() < 0:
        return "overdue", _("overdue by %(time)s") % {"time": _human(-left)}
    level = "amber" if period.total_seconds() > 0 and left / period < 0.25 else "ok"
    return level, _("%(time)s left") % {"time": _human(left)}


def due_windows(now: dt.datetime) -> dict[str, Q]:
    """The open cases overdue, due today and due this week (to the end of the seventh day), as
    filters: the queue's deadline filter and the admin's overview count the same cases."""
    end_of_today = timezone.localtime(now).replace(hour=23, minute=59, second=59)
    open_ = Q(state__in=OPEN_STATES)
    return {
        "overdue": open_ & Q(effective_deadline__lt=now),
        "today": open_ & Q(effective_deadline__gte=now, effective_deadline__lte=end_of_today),
        "week": open_
        & Q(effective_deadline__gte=now, effective_deadline__lte=end_of_today + dt.timedelta(7)),
    }


def queue_summary(cases: QuerySet[Case], now: dt.datetime) -> dict[str, int]:
    """How many of these cases are open, overdue, due today, due this week, unassigned, and
    decided but not yet communicated: one query, whatever the number of cases."""
    windows = due_windows(now)
    return cases.aggregate(
        open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        unsent=Count("pk", filter=UNSENT),
        unassigned=Count("pk", filter=Q(state__in=OPEN_STATES, assigned_to__isnull=True)),
        **{name: Count("pk", filter=window) for name, window in windows.items()},
    )


def _human(delta: dt.timedelta) -> str:
    if delta.days >= 1:
        return _("%(n)d d") % {"n": delta.days}
    return _("%(n)d h") % {"n": delta.seconds // 3600}


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    at: dt.datetime
    actor: str
    label: str
    from_state: str
    to_state: str
    ground: str
    message: str
    details: list[str]
    hash: str


@dataclass(frozen=True)
class Chain:
    """The case's hash chain as verified now: its head (to note down, or print in a report, so
    that a later truncation shows) and the first broken link, if any."""

    count: int
    head: str
    problem: str  # "" when intact


@dataclass(frozen=True)
class CaseFile:
    case: Case
    is_officer: bool
    steps: list[Step]  # what this user may do now (none for auditors and administrators)
    badge: tuple[str, str]
    suspensions: list[Suspension]
    messages: list[Message]
    mails: list[OutgoingMail]
    documents: list[IdDocument] | None  # None: this user may never see ID copies
    timeline: list[TimelineEntry]
    chain: Chain


def timeline(case: Case, rows: Iterable[CaseEvent] | None = None) -> list[TimelineEntry]:
    """Every event of the case, oldest first, in the active language (``rows``: the case's
    events in order, when the caller has them already)."""
    tz = case.controller.time_zone
    return [
        TimelineEntry(
            seq=event.seq,
            at=event.at,
            actor=event.actor_label,
            label=events.label(event.action),
            from_state=events.state_label(event.from_state),
            to_state=events.state_label(event.to_state),
            ground=events.ground_label(event.ground, case.controller.country),
            message=event.message,
            details=events.describe(event, tz=tz),
            hash=event.hash,
        )
        for event in (case.events.order_by("seq") if rows is None else rows)
    ]


def case_file(case: Case, *, user: Any, now: dt.datetime | None = None) -> CaseFile:
    """What the case page shows this user. Call it only for a user who may see the case."""
    officer = is_officer(user, case.controller)
    steps = [STEPS[name] for name in available_steps(case, Actor.officer(user))] if officer else []
    return CaseFile(
        case=case,
        is_officer=officer,
        steps=steps,
        badge=deadline_badge(case, now or timezone.now()),
        suspensions=list(case.suspensions.all()),
        messages=list(case.messages.select_related("author")),
        mails=list(case.outgoing_mail.all()),
        documents=list(case.id_documents.all()) if officer else None,
        timeline=timeline(case),
        chain=chain_state(case),
    )


def chain_state(case: Case, rows: Iterable[CaseEvent] | None = None) -> Chain:
    broken = verify_chain(case, rows)
    count, head = Case.objects.values_list("audit_count", "audit_head").get(pk=case.pk)
    return Chain(count, head, str(broken) if broken else "")
