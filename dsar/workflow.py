"""The one path for every change of a request's state.

``perform`` locks the request, checks that the actor may take the step, runs the model's
transition (which validates its own arguments), recomputes deadlines, writes exactly one
``CaseEvent`` and queues the mail the step sends — all in one transaction, so a rollback sends
nothing and a commit loses nothing. The public site, officers (the admin), email intake and Celery
all come through here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from controllers.models import Controller, Membership, Role

from . import iddocs
from .audit import record_event
from .mail import queue_mail
from .models import Channel, Direction, Message, RefusalGround, Request, State

ActorKind = Literal["subject", "officer", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user: AbstractBaseUser | AnonymousUser | None = field(default=None)

    @property
    def label(self) -> str:
        if self.kind == "officer" and self.user is not None:
            return self.user.get_username()
        return self.kind

    @classmethod
    def subject(cls) -> Actor:
        return cls("subject")

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def officer(cls, user: AbstractBaseUser | AnonymousUser) -> Actor:
        return cls("officer", user)


# Who may take each step. An officer may also record a withdrawal the subject made by phone.
SUBJECT_STEPS = {"confirm_email", "submit_identity", "answer", "withdraw"}
SYSTEM_STEPS = {"expire"}
OFFICER_STEPS = {
    "ask_identity",
    "approve_identity",
    "ask_subject",
    "extend",
    "prepare_response",
    "reopen",
    "complete",
    "refuse",
    "withdraw",
}
# After these, identity is decided or the request has ended: ID copies are destroyed.
DESTROYS_ID_DOCUMENTS = {"approve_identity", "refuse", "withdraw", "complete", "expire"}


class StepNotAllowed(Exception):
    """The step does not exist or is not possible from the request's current state."""


def is_officer(user: AbstractBaseUser | AnonymousUser | None, controller: Controller) -> bool:
    """Whether the user may act on the controller's requests: an active staff officer of it."""
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    # Administrators manage controllers and memberships; acting on a controller's requests (and
    # seeing its ID copies) takes an officer membership, superuser or not.
    return Membership.objects.filter(user=user, controller=controller, role=Role.OFFICER).exists()


def check_actor(request: Request, step: str, actor: Actor) -> None:
    allowed = {
        "subject": SUBJECT_STEPS,
        "system": SYSTEM_STEPS,
        "officer": OFFICER_STEPS,
    }[actor.kind]
    # An officer who records a request received by phone, post or email stands in for the
    # subject's confirmation: the channel itself was the controller's own.
    if actor.kind == "officer" and step == "confirm_email" and request.channel != Channel.WEB:
        allowed = allowed | {"confirm_email"}
    if step not in allowed:
        raise PermissionDenied(f"a {actor.kind} may not {step}")
    if actor.kind == "officer" and not is_officer(actor.user, request.controller):
        raise PermissionDenied(f"{actor.label} is not an officer of {request.controller}")


def available_steps(request: Request, actor: Actor) -> list[str]:
    """The steps this actor may take now: what a UI should offer, and nothing more."""
    steps = []
    for step in sorted(SUBJECT_STEPS | SYSTEM_STEPS | OFFICER_STEPS):
        try:
            check_actor(request, step, actor)
        except PermissionDenied:
            continue
        if can_proceed(getattr(request, step)):
            steps.append(step)
    return steps


def perform(
    request: Request | int,
    step: str,
    *,
    actor: Actor,
    message: str = "",
    now: dt.datetime | None = None,
    record: dict[str, Any] | None = None,
    **arguments: Any,
) -> Request:
    """Take one step; PermissionDenied, StepNotAllowed or ValidationError change nothing.

    ``record`` is what the step's event keeps beside its own data (e.g. the officer's identity
    checklist): evidence for the audit trail, not an argument of the transition.
    """
    all_steps = SUBJECT_STEPS | SYSTEM_STEPS | OFFICER_STEPS
    if step not in all_steps:
        raise StepNotAllowed(step)
    now = now or timezone.now()
    pk = request.pk if isinstance(request, Request) else request
    with transaction.atomic():
        locked = (
            Request.objects.select_for_update(of=("self",))
            .select_related("controller__supervisory_authority")
            .get(pk=pk)
        )
        check_actor(locked, step, actor)
        method = getattr(locked, step)
        if not can_proceed(method):
            raise StepNotAllowed(f"cannot {step} a request that is {locked.get_state_display()}")
        source = locked.state
        had_documents = locked.id_documents.exists()
        paused_before = (locked.paused_since, locked.paused_days)
        method(now=now, **arguments)
        locked.recompute_deadlines()
        locked.save()
        if message.strip():
            Message.objects.create(
                request=locked,
                direction=Direction.FROM_SUBJECT
                if actor.kind == "subject"
                else Direction.TO_SUBJECT,
                body=message,
                author=actor.user if actor.kind == "officer" else None,
                created_at=now,
            )
        data: dict[str, Any] = dict(record or {})
        if paused_before[0] is not None and locked.paused_since is None:
            # The suspension is part of the chain: when it ran and the days it added.
            data["suspension"] = {
                "since": paused_before[0].isoformat(),
                "days_added": locked.paused_days - paused_before[1],
            }
        if locked.paused_since is not None and paused_before[0] is None:
            data["clock_paused"] = True
        if step in ("refuse", "complete") and locked.refusal_ground and now > locked.notice_by:
            # Art. 12(4): a refusal is due within the first month; a late one is flagged.
            data["late_refusal"] = True
        destroys = step in DESTROYS_ID_DOCUMENTS or (
            step == "ask_identity" and source == State.IDENTITY_REVIEW
        )
        if destroys and had_documents:
            result = _id_result(step, source, arguments)
            count = iddocs.destroy(locked)
            # What stays of the document (LEGAL.md §2): who checked it, when, and the result.
            data["id_document"] = {"checked_by": actor.label, "result": result, "deleted": count}
        if step == "extend":
            data["reason"] = arguments["reason"]
        record_event(
            locked,
            actor=actor,
            action=step,
            from_state=source,
            to_state=locked.state,
            ground=locked.refusal_ground if step in ("refuse", "complete") else "",
            message=message,
            data=data,
            at=now,
        )
        _notify(locked, step, message)
    return locked


def _id_result(step: str, source: str, arguments: dict[str, Any]) -> str:
    if step == "approve_identity":
        return "approved"
    if step == "ask_identity":
        return "not accepted; a new document was asked for"
    if step == "refuse" and arguments.get("ground") == RefusalGround.IDENTITY_NOT_CONFIRMED:
        return "rejected"
    return f"not decided ({step} from {source})"


def _notify(request: Request, step: str, message: str) -> None:
    """The mail each step sends to the subject (rendered later, in the request's language)."""
    if step == "confirm_email":
        queue_mail(request, "confirmed")
    elif step in ("ask_identity", "ask_subject"):
        queue_mail(request, "question", message=message)
    elif step == "extend":
        queue_mail(request, "extended", message=message)
    elif step == "refuse":
        queue_mail(request, "refused", message=message)
    elif step == "complete":
        queue_mail(request, "completed", message=message)
    elif step == "withdraw":
        queue_mail(request, "withdrawn")


def _lock_for_officer(request: Request, actor: Actor) -> Request:
    """Lock the row for a change that is not a transition, by one of its controller's officers."""
    locked = (
        Request.objects.select_for_update(of=("self",))
        .select_related("controller")
        .get(pk=request.pk)
    )
    if actor.kind != "officer" or not is_officer(actor.user, locked.controller):
        raise PermissionDenied("only the controller's officers may do this")
    return locked


def send_message(request: Request, *, actor: Actor, body: str) -> Message:
    """A message to the subject that changes no state; recorded as an event all the same."""
    if not body.strip():
        raise ValidationError(_("Write a message."))
    with transaction.atomic():
        locked = _lock_for_officer(request, actor)
        if locked.state in (State.UNCONFIRMED, State.EXPIRED):
            raise StepNotAllowed("the subject's email address is not confirmed")
        sent = Message.objects.create(
            request=locked, direction=Direction.TO_SUBJECT, body=body, author=actor.user
        )
        record_event(
            locked,
            actor=actor,
            action="message",
            from_state=locked.state,
            to_state=locked.state,
            message=body,
            at=sent.created_at,
        )
        queue_mail(locked, "message", message=body)
    return sent


def assign(request: Request, *, actor: Actor, assignee: AbstractBaseUser | None) -> Request:
    """Give a request to an officer of its controller (or to nobody); recorded as an event."""
    with transaction.atomic():
        locked = _lock_for_officer(request, actor)
        if assignee is not None and not is_officer(assignee, locked.controller):
            raise ValidationError(
                _("%(user)s is not an officer of %(controller)s.")
                % {"user": assignee.get_username(), "controller": locked.controller}
            )
        if locked.assigned_to_id == (assignee.pk if assignee else None):
            return locked
        locked.assigned_to = assignee
        locked.save(update_fields=["assigned_to"])
        record_event(
            locked,
            actor=actor,
            action="assign",
            from_state=locked.state,
            to_state=locked.state,
            data={"assigned_to": assignee.get_username() if assignee else None},
            at=timezone.now(),
        )
    return locked
