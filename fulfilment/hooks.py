"""How fulfilment joins a case's steps (through ``cases.extensions``), and the events it writes.
Each receiver only says which room's service a step calls, with the step's arguments and its
``now``; what each rule means lives in the room (``searches.checks``, ``changes.checks``,
``changes.completion``, ``changes.execute``, ``changes.plans``, ``searches.package``, ...).

- Identity settled on an access or portability request (the case enters "in progress"): the
  searches start, in the same transaction.
- A case with no searches (its controller declares no systems) is answered by text, as before.
- "Prepare the response" waits until every search is settled (done, or skipped with a reason),
  then asks for the package to be built; "reopen" discards an unreleased package.
- "Approve and send" (complete) waits for the package, and releases it to the subject.
- Once a case has ended, what the searches copied is deleted (the package keeps what the subject
  gets, until its link expires).
- A right that changes data (erasure, restriction, rectification, objection, withdrawal of
  consent): once identity is settled its plan is made (a dry run; ``fulfilment.changes.plans``);
  "approve the plan" takes only the plan the officer reviewed (its hash), never an outdated
  one (its corrections or its systems' declarations changed since), and starts its
  changes; "prepare the response" waits until each is done (or skipped with a reason) and
  no recipient waits for the officer (Art. 19: no way to tell it declared, data that reach it
  only on occasion, a processor that did not say what it held);
  "approve and send" mails the completion letter. An objection to direct marketing
  cannot be refused on compelling grounds (Art. 21(3)). "Lift the restriction" approves the
  lifting's plan, tells the subject, and lifts it after the notice period (Art. 18(3)).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from cases.actors import Actor
from cases.models import FINAL_STATES, Case, State

from .changes import checks as change_checks
from .changes import completion, execute, plans
from .changes import events as changes_events
from .searches import checks as search_checks
from .searches import events as searches_events
from .searches.collect import DATA_RIGHTS, discard_staging, start
from .searches.package import release, request_build, supersede
from .systems import events as systems_events


def on_checking(
    sender: Any, *, case: Case, step: str, arguments: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    if case.right in plans.CHANGE_RIGHTS:
        change_checks.check(case, step, arguments or {})
    elif case.right in DATA_RIGHTS:
        search_checks.check(case, step)


def on_taken(
    sender: Any,
    *,
    case: Case,
    step: str,
    source: str,
    actor: Actor | None = None,
    arguments: dict[str, Any] | None = None,
    message: str = "",
    now: dt.datetime | None = None,
    **kwargs: Any,
) -> None:
    # What fulfilment records is dated by the step's clock (a demo history sets it back).
    now = now or timezone.now()
    actor = actor or Actor.system()
    arguments = arguments or {}
    if case.right in plans.CHANGE_RIGHTS:
        plans.plan_when_due(case)
        if step == "approve_plan":
            execute.approve(case, plans.current(case), actor=actor, at=now)
        elif step == "lift_restriction":
            execute.approve(case, plans.current(case, plans.LIFT), actor=actor, at=now)
            completion.announce_lift(
                case, reason=arguments.get("reason", ""), message=message, now=now
            )
        elif step == "complete":
            completion.send_letter(case, plans.current(case), now=now)
    if case.right in DATA_RIGHTS:
        if case.state == State.IN_PROGRESS:
            start(case, now)  # once: it does nothing when the searches exist
        if step == "prepare_response" and case.searches.exists():
            request_build(case, now)
        elif step == "reopen":
            supersede(case, now)
        elif step == "complete":
            release(case, now)
    if case.state in FINAL_STATES and source not in FINAL_STATES:
        # Refused, withdrawn or expired: nothing is sent, nothing more is changed.
        if case.state != State.COMPLETED:
            supersede(case, now)
            execute.cancel(case, now)
        discard_staging(case)


# Fulfilment's whole vocabulary of events, each room's declared beside its code.
EVENT_TYPES = {**searches_events.EVENT_TYPES, **changes_events.EVENT_TYPES}
RENDERERS = {**systems_events.RENDERERS, **searches_events.RENDERERS, **changes_events.RENDERERS}
DESCRIBERS = {**searches_events.DESCRIBERS, **changes_events.DESCRIBERS}
