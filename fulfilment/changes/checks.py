"""When a change right's steps wait for its plan and its changes (``step_checking``): no "nothing
held" where the systems are searched; the plan approved (or the lifting) only as the officer
reviewed it, never an outdated one; no response until each change is settled and no recipient
waits for the officer (Art. 19); an objection to direct marketing never refused on compelling
grounds (Art. 21(3))."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cases.models import Case, ObjectionTo, RefusalGround
from cases.models.grounds import OBJECTION_GROUNDS
from controllers.models import Right

from ..models import Plan, PlanStatus
from ..systems.checks import all_settled, answered_by_systems
from . import execute, plans


def check(case: Case, step: str, arguments: dict[str, Any]) -> None:
    """Raise ValidationError if ``step`` must wait; call for a change right's case only."""
    if step == "answer_no_data" and (case.plans.exists() or case.controller.systems.exists()):
        raise answered_by_systems()
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
        all_settled(
            plan.changes.all(),
            _(
                "Not every change is done: %(systems)s. Wait for it, try it again, confirm "
                "a manual task, make the plan again, or skip it with a reason."
            ),
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
