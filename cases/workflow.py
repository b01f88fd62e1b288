"""The one path for every change of a case: ``perform`` a step of ``cases.steps``.

``perform`` locks the case, checks that the actor may take the step now, runs the model's
transition (which validates its own arguments), recomputes deadlines, writes exactly one
``CaseEvent`` and queues the mail the step sends — all in one transaction, so a rollback sends
nothing and a commit loses nothing. The public site, officers (the admin), mail in and Celery all
come through here; what each step means is declared in the steps table, not here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from controllers.access import is_officer, reminder_addresses

from . import iddocs
from .actors import Actor
from .audit import record_event
from .extensions import step_checking, step_taken
from .mail import queue_mail
from .models import Case, Channel, Direction, Message, RefusalGround
from .steps import STEPS, Step


class StepNotAllowed(Exception):
    """The step does not exist or is not possible from the case's current state."""


def check_actor(case: Case, step: Step, actor: Actor, *, officer: bool | None = None) -> None:
    """PermissionDenied unless this actor may take this step on this case (state aside).

    ``officer``: whether the actor is an officer of the case's controller, when the caller has
    asked already (``available_steps`` asks once, not once a step).
    """
    if actor.kind not in step.who:
        raise PermissionDenied(f"a {actor.kind} may not {step.name}")
    if actor.kind == "officer":
        if step.officer_only_off_web and case.channel == Channel.WEB:
            raise PermissionDenied(f"{step.name} is the subject's own step on the web")
        if officer is None:
            officer = is_officer(actor.user, case.controller)
        if not officer:
            raise PermissionDenied(f"{actor.label} is not an officer of {case.controller}")


def is_possible(case: Case, step: Step) -> bool:
    """Whether the case's state allows the step (the transition's sources, or the step's own)."""
    if step.only_from and case.state not in step.only_from:
        return False
    if step.rights and case.right not in step.rights:
        return False
    return step.transition is None or can_proceed(getattr(case, step.transition))


def available_steps(case: Case, actor: Actor) -> list[str]:
    """The steps this actor may take now, in the table's order: what a page should offer."""
    officer = actor.kind == "officer" and is_officer(actor.user, case.controller)
    names = []
    for step in STEPS.values():
        try:
            check_actor(case, step, actor, officer=officer)
        except PermissionDenied:
            continue
        if is_possible(case, step):
            names.append(step.name)
    return names


def _lock(case: Case | int) -> Case:
    pk = case.pk if isinstance(case, Case) else case
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("controller__supervisory_authority")
        .get(pk=pk)
    )


def perform(
    case: Case | int,
    step_name: str,
    *,
    actor: Actor,
    message: str = "",
    now: dt.datetime | None = None,
    record: dict[str, Any] | None = None,
    id_document: iddocs.CheckedDocument | None = None,
    **arguments: Any,
) -> Case:
    """Take one step; PermissionDenied, StepNotAllowed or ValidationError change nothing.

    ``message`` is the text to (or from) the subject, kept as a Message; ``id_document`` an ID
    copy that comes with the step (the subject's upload); ``record`` what the step's event keeps
    beside its own data (the officer's identity checklist): evidence, not an argument.
    """
    step = STEPS.get(step_name)
    if step is None:
        raise StepNotAllowed(step_name)
    now = now or timezone.now()
    with transaction.atomic():
        case = _lock(case)
        case.step_now = now
        check_actor(case, step, actor)
        if not is_possible(case, step):
            raise StepNotAllowed(f"cannot {step.name} a case that is {case.get_state_display()}")
        if step.transition is None and step.needs_message(actor.kind) and not message.strip():
            # A step that changes no state exists for its message. (A question or an answer
            # without text is the form's to refuse: an officer may record a reply by phone.)
            raise ValidationError(_("Write a message."))
        # A room above the core may hold the step back (it raises ValidationError): nothing
        # has changed yet.
        step_checking.send(sender=Case, case=case, step=step.name, actor=actor, arguments=arguments)
        source = case.state
        paused_before = (case.paused_since, case.paused_days)
        paused_reason = case.pause_reason
        if id_document is not None:
            if not any(f.kind == "document" for f in step.fields_for(actor.kind)):
                raise ValidationError(_("This step takes no document."))
            iddocs.store(case, id_document)
        had_documents = case.id_documents.exists()
        arguments = {**arguments, **step.fixed}
        if step.transition is not None:
            getattr(case, step.transition)(now=now, **arguments)
            case.recompute_deadlines()
            case.save()
        if message.strip():
            Message.objects.create(
                case=case,
                direction=Direction.FROM_SUBJECT
                if actor.kind == "subject"
                else Direction.TO_SUBJECT,
                body=message,
                author=actor.user if actor.kind == "officer" else None,
                created_at=now,
            )
        data: dict[str, Any] = dict(record or {})
        if paused_before[0] is not None and case.paused_since is None:
            # The suspension is part of the chain: when it ran and the days it added.
            data["suspension"] = {
                "since": paused_before[0].isoformat(),
                "days_added": case.paused_days - paused_before[1],
                "reason": paused_reason,
            }
        if case.paused_since is not None and paused_before[0] is None:
            # Why it stands still (PauseReason): the reason is part of the chain.
            data["clock_paused"] = case.pause_reason
        if step.records_ground and case.refusal_ground and now > case.notice_by:
            # Art. 12(4): a refusal is due within the first month; a late one is flagged.
            data["late_refusal"] = True
        if step.decides_identity_when(source) and had_documents:
            count = iddocs.destroy(case)
            result = _id_result(step, source, arguments)
            # What stays of the document (docs/legal.md §2): who checked it, when, the result;
            # or, when the request ended before anyone decided on it, that it was deleted
            # unchecked (never "checked by" whoever ended it).
            data["id_document"] = (
                {"checked_by": actor.label, "result": result, "deleted": count}
                if result
                else {"unchecked": step.name, "deleted": count}
            )
        # What the subject is told is part of the record the chain covers.
        for field in step.fields_for(actor.kind):
            if field.kind == "text":
                data[field.name] = arguments.get(field.name, "")
        for name in step.records:
            data[name] = getattr(case, name)
        record_event(
            case,
            actor=actor,
            action=step.name,
            from_state=source,
            to_state=case.state,
            ground=case.refusal_ground if step.records_ground else "",
            message=message,
            data=data,
            at=now,
        )
        # What the rooms above do with the step happens in its transaction (cases.extensions).
        step_taken.send(
            sender=Case,
            case=case,
            step=step.name,
            source=source,
            actor=actor,
            arguments=arguments,
            message=message,
            now=now,
        )
        mail = step.officer_mail if actor.kind == "officer" and step.officer_mail else step.mail
        if mail:
            queue_mail(case, mail, carries=step.communicates, at=now, message=message)
        if actor.kind == "subject" and step.officer_notice:
            for address in reminder_addresses(case.controller, assignee=case.assigned_to):
                queue_mail(case, "officer_notice", to=address, at=now, step=step.name)
    return case


def _id_result(step: Step, source: str, arguments: dict[str, Any]) -> str:
    """What was decided on the ID copy; "" when nothing was (the request ended first)."""
    if step.id_result:
        return step.id_result
    if arguments.get("ground") == RefusalGround.IDENTITY_NOT_CONFIRMED:
        return "rejected"
    return ""


def assign(case: Case, *, actor: Actor, assignee: Any) -> Case:
    """Give a case to an officer of its controller (or to nobody); recorded as an event."""
    with transaction.atomic():
        case = _lock(case)
        if actor.kind != "officer" or not is_officer(actor.user, case.controller):
            raise PermissionDenied("only the controller's officers may do this")
        if assignee is not None and not is_officer(assignee, case.controller):
            raise ValidationError(
                _("%(user)s is not an officer of %(controller)s.")
                % {"user": assignee.get_username(), "controller": case.controller}
            )
        if case.assigned_to_id == (assignee.pk if assignee else None):
            return case
        case.assigned_to = assignee
        case.save(update_fields=["assigned_to"])
        record_event(
            case,
            actor=actor,
            action="assign",
            from_state=case.state,
            to_state=case.state,
            data={"assigned_to": assignee.get_username() if assignee else None},
            at=timezone.now(),
        )
    return case
