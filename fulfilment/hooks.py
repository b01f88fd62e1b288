"""How fulfilment joins a case's steps (through ``cases.extensions``), and the events it writes.

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
  executions; "prepare the response" waits until each is done (or skipped with a reason) and
  no recipient waits for the officer (Art. 19: no way to tell it declared, data that reach it
  only on occasion, a processor that did not say what it held);
  "approve and send" mails the completion letter. An objection to direct marketing
  cannot be refused on compelling grounds (Art. 21(3)). "Lift the restriction" approves the
  lifting's plan, tells the subject, and lifts it after the notice period (Art. 18(3)).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail
from cases.models import (
    FINAL_STATES,
    Carries,
    Case,
    Direction,
    Message,
    ObjectionTo,
    RefusalGround,
    State,
)
from cases.models.grounds import OBJECTION_GROUNDS
from controllers.models import Right

from .changes import completion, execute, plans
from .changes import events as changes_events
from .models import PackageStatus, Plan, PlanStatus
from .searches import events as searches_events
from .searches import letter
from .searches.collect import DATA_RIGHTS, discard_staging, start
from .searches.package import package_of, release, request_build, supersede
from .systems import events as systems_events

log = logging.getLogger(__name__)


def on_checking(
    sender: Any, *, case: Case, step: str, arguments: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    if step == "answer_no_data" and (
        case.collections.exists()
        or case.plans.exists()
        # Where the controller declares systems, they are searched for this right (a data
        # right's searches, a change right's plan): "nothing held" is what they find, never
        # the officer's word before they ran (the letter would say "we searched").
        or (case.right in DATA_RIGHTS + plans.CHANGE_RIGHTS and case.controller.systems.exists())
    ):
        # The searches (or the plan's dry run) say what is held: the answer follows from them,
        # and the letter says so when they found nothing (cases.models.grounds).
        raise ValidationError(
            _(
                "This request is answered from the searches of the systems: prepare the "
                "response; where nothing was found, the answer says so."
            )
        )
    if case.right in plans.CHANGE_RIGHTS:
        _check_change(case, step, arguments or {})
        return
    if case.right not in DATA_RIGHTS:
        return
    # A case without searches (its controller declared no systems when its identity was
    # settled) is answered by text alone, as before fulfilment existed.
    if not case.collections.exists():
        return
    if step == "prepare_response":
        waiting = [c.system_title for c in case.collections.all() if not c.settled]
        if waiting:
            raise ValidationError(
                _(
                    "Not every system has been searched: %(systems)s. Wait for it, try it "
                    "again, answer it by hand, or skip it with a reason."
                )
                % {"systems": ", ".join(waiting)}
            )
        if case.right == Right.ACCESS and (missing := letter.gaps(case)):
            # Silence is never the answer (searches.letter): the letter waits for the officer.
            raise ValidationError(
                _(
                    "The access letter needs items that neither the privacy statement nor the "
                    "registry gives: %(items)s. Supply them (Letter items, in the search panel), "
                    "then prepare the response."
                )
                % {"items": "; ".join(gap.what for gap in missing)}
            )
    if step == "complete":
        package = package_of(case)
        if package is None or package.status == PackageStatus.BUILDING:
            raise ValidationError(_("The data package is still being built."))
        if package.status != PackageStatus.READY:
            raise ValidationError(
                _("The data package could not be built: %(error)s. Reopen and prepare again.")
                % {"error": package.error or package.get_status_display()}
            )


def _check_change(case: Case, step: str, arguments: dict[str, Any]) -> None:
    if step in ("approve_plan", "lift_restriction"):
        purpose = plans.LIFT if step == "lift_restriction" else case.right
        if step == "lift_restriction":
            applied = plans.current(case, Right.RESTRICTION)
            if applied is None or applied.status != PlanStatus.APPROVED:
                raise ValidationError(_("No restriction was applied through the systems."))
        plan = plans.current(case, purpose)
        if plan is None or plan.status != PlanStatus.DRAFT:
            raise ValidationError(_("Make the plan first (a dry run), then review it."))
        if str(arguments.get("plan", "")).strip().lower() != plan.sha256:
            raise ValidationError(
                _("The plan changed since you reviewed it, or the hash is wrong: review it again.")
            )
        if problems := plans.problems(plan.body):
            raise ValidationError(" ".join(problems))
        if outdated := plans.outdated(case, plan):
            raise ValidationError(" ".join(outdated))
        if purpose == plans.LIFT and (why := plans.lift_refusal(case, plan.body)):
            raise ValidationError(why)
    elif step == "prepare_response" and case.controller.systems.exists():
        plan = plans.current(case)
        if plan is None or plan.status != PlanStatus.APPROVED:
            raise ValidationError(_("Approve the plan of changes first."))
        waiting = [e.system_title for e in plan.executions.all() if not e.settled]
        if waiting:
            raise ValidationError(
                _(
                    "Not every change is done: %(systems)s. Wait for it, try it again, confirm "
                    "a manual task, make the plan again, or skip it with a reason."
                )
                % {"systems": ", ".join(waiting)}
            )
        _check_notices(plan)
    elif step == "complete" and case.controller.systems.exists():
        # Checked again when the letter is written: a notice whose mail bounced meanwhile
        # waits for the officer, and the letter names every recipient (C-154/21).
        plan = plans.current(case)
        if plan is not None and plan.status == PlanStatus.APPROVED:
            _check_notices(plan)
    elif (
        step == "refuse"
        and case.right == Right.OBJECTION
        and arguments.get("ground") in (*OBJECTION_GROUNDS, RefusalGround.NATIONAL_LAW)
        # Recorded as an objection to other processing only, the marketing is not objected
        # to; otherwise (to marketing, both, or not yet said) the systems' marketing counts.
        and case.objection_to != ObjectionTo.PARTICULAR_SITUATION
        and _marketing(case)
    ):
        raise ValidationError(
            _(
                "An objection to direct marketing is absolute (Art. 21(3)): it cannot be "
                "refused on compelling grounds. Carry out the marketing changes; refuse only "
                "the rest (a partial refusal when sending the response)."
            )
        )


def _check_notices(plan: Plan) -> None:
    """No response while a recipient's notice is being mailed or waits for the officer: the
    letter says of every recipient whether it was told (Art. 19)."""
    if mailing := execute.mailing_recipients(plan):
        raise ValidationError(
            _(
                "The notices to these recipients have not left yet (Art. 19): %(recipients)s. "
                "Wait for their mail (see Mail below): a recipient is told once it has left."
            )
            % {"recipients": "; ".join(mailing)}
        )
    if recipients := execute.waiting_recipients(plan):
        raise ValidationError(
            _(
                "These recipients wait for you (Art. 19): %(recipients)s. For each, give an "
                "address to tell it by, record that it was told another way, record an "
                "exception of Art. 19 (impossible, disproportionate effort) with its "
                "reason, or that none of the subject's data went to it."
            )
            % {"recipients": "; ".join(recipients)}
        )


def _marketing(case: Case) -> bool:
    """Whether refusing this objection could leave direct marketing of the subject going on:
    yes wherever a system declares such processing, unless the plan's dry run counted none of
    the subject's rows in it (no plan yet, or a system that could not be counted, is a yes)."""
    if not plans.marketing_declared(case):
        return False
    plan = plans.current(case)
    if plan is None or any(s.get("error") for s in plan.body["systems"]):
        return True
    return any(
        t.get("marketing") and t.get("rows")
        for s in plan.body["systems"]
        for t in s.get("tables", ())
    )


def _on_change(
    case: Case, step: str, actor: Actor, arguments: dict[str, Any], message: str, now: dt.datetime
) -> None:
    # Corrections come first: a rectification's plan is made once the officer has entered them.
    first = case.state == State.IN_PROGRESS and not case.plans.exists()
    if first and case.right != Right.RECTIFICATION:
        transaction.on_commit(lambda: plan_soon(case.pk))
    if step == "approve_plan":
        execute.approve(case, plans.current(case), actor=actor, at=now)
    elif step == "lift_restriction":
        plan = plans.current(case, plans.LIFT)
        execute.approve(case, plan, actor=actor, at=now)
        lift_on = now + dt.timedelta(days=settings.RESTRICTION_LIFT_NOTICE_DAYS)
        queue_mail(
            case,
            "lift_notice",
            # It asks the subject to answer before the lifting: the answer goes to the
            # controller's privacy address (mail in brings it to the case).
            reply_to_controller=True,
            lift_on=lift_on.date().isoformat(),
            reason=arguments.get("reason", ""),
            message=message,
        )
    elif step == "complete":
        plan = plans.current(case)
        if plan is None or plan.status != PlanStatus.APPROVED:
            return
        paragraphs = completion.paragraphs(case, plan)
        letter = "\n\n".join(paragraphs)
        Message.objects.create(
            case=case, direction=Direction.TO_SUBJECT, body=letter, author=None, created_at=now
        )
        note(
            case, actor=Actor.system(), action="completion_letter", at=now, data={"letter": letter}
        )
        # The letter is the decision as much as the response's own mail: it is communicated
        # once both have left (cases.mail).
        queue_mail(
            case,
            "change_report",
            carries=Carries.DECISION,
            at=now,
            letter=letter,
            paragraphs=paragraphs,
        )


def plan_soon(case_id: int) -> None:
    """Make the first plan in a worker (the counts reach the systems); if the broker is down,
    the officer makes it from the case file."""
    try:
        plan_task.delay(case_id)
    except Exception:
        log.warning("broker unavailable; the plan of case %s waits for an officer", case_id)


@shared_task(name="fulfilment.make_plan")
def plan_task(case_id: int) -> None:
    case = Case.objects.select_related("controller").filter(pk=case_id).first()
    if case is None or case.plans.exists() or not plans.plannable(case, case.right):
        return
    with contextlib.suppress(ValidationError):  # made meanwhile, or no longer in progress
        plans.make(case, actor=Actor.system())


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
    if case.right in plans.CHANGE_RIGHTS:
        _on_change(case, step, actor or Actor.system(), arguments or {}, message, now)
    if case.right in DATA_RIGHTS:
        if case.state == State.IN_PROGRESS:
            start(case, now)  # once: it does nothing when the searches exist
        if step == "prepare_response" and case.collections.exists():
            request_build(case, now)
        elif step == "reopen":
            supersede(case, now)
        elif step == "complete":
            release(case, now)
    if case.state in FINAL_STATES and source not in FINAL_STATES:
        if case.state != State.COMPLETED:
            supersede(case, now)
            execute.cancel(case, now)
        discard_staging(case)


# Fulfilment's whole vocabulary of events, each room's declared beside its code.
EVENT_TYPES = {**searches_events.EVENT_TYPES, **changes_events.EVENT_TYPES}
RENDERERS = {**systems_events.RENDERERS, **searches_events.RENDERERS, **changes_events.RENDERERS}
DESCRIBERS = {**searches_events.DESCRIBERS, **changes_events.DESCRIBERS}
