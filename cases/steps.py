"""Every step a case can take, declared once.

An entry says who may take the step, how it is labelled (in Dutch and English, through the
catalogue), which fields it asks of whom, which mail it sends the subject, whether it decides
identity (and so destroys the ID copies), and how its event reads in the timeline. The workflow
(permission, side effects, the record), the admin's buttons and forms, the subject's status page,
the state graph and the case report all read this table.

The table holds the core's steps. A room above the core adds its own through
``register`` below, from its AppConfig.ready, so that everything
that reads ``STEPS`` sees them once the apps are loaded; no code of the core names them.

Adding a step is one entry here (or one registration by its room) plus, if it changes the state,
one transition on ``Case``. Those transitions stay on the model: django-fsm's are methods of the
model that owns the protected state field, and the states are the core's. A room's steps
(fulfilment's approve_plan and lift_restriction) change no state; one that did would use a
transition the core declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from controllers.models import Right

from .models import FINAL_STATES, OPEN_STATES, ObjectionTo, RefusalGround, State

Who = Literal["subject", "officer", "system"]
# message: text to (or from) the subject, kept as a Message; text: an argument of the transition;
# ground: a refusal ground; check: a box of the officer's checklist, kept in the event;
# document: an ID copy (checked by content); confirm: a box that must be ticked, kept nowhere.
# choice: one of the field's choices, an argument of the transition.
FieldKind = Literal["message", "text", "ground", "check", "document", "confirm", "choice"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: FieldKind
    label: Promise
    required: bool = True
    # The case attribute that prefills it (a response being revised).
    initial: str = ""
    # The most a text may hold; None: the kind's default (cases.forms).
    max_length: int | None = None
    # A choice field's (value, label) pairs.
    choices: tuple[tuple[str, Promise], ...] = ()


@dataclass(frozen=True)
class Step:
    name: str
    # What the officer's button says, and the title of the step's page.
    label: Promise
    # How the step's event reads in the timeline and the case report.
    event: Promise
    who: frozenset[Who]
    # The Case method it runs; None for a step that changes no state (a message).
    transition: str | None = None
    # States it is offered from, when narrower than the transition's (or it has none).
    only_from: tuple[str, ...] = ()
    # The rights whose cases it is offered for; empty: every right.
    rights: tuple[str, ...] = ()
    # An officer may take it only for a case that reached the controller by phone, post or
    # email: the officer's own record then stands for the subject's confirmation.
    officer_only_off_web: bool = False
    fields: tuple[Field, ...] = ()  # what an officer fills in
    subject_fields: tuple[Field, ...] = ()  # what the subject fills in on the status page
    fixed: Mapping[str, str] = field(default_factory=dict)  # arguments the step itself sets
    # Every text field is kept in the event's data, so the chain covers what the subject was
    # told; these attributes of the case too, as they are after the step (the response sent).
    records: tuple[str, ...] = ()
    records_ground: bool = False  # its event carries the legal ground the case now has
    closes: bool = False  # it ends the case (a final state): shown as such, never by default
    mail: str = ""  # the mail it sends the subject: templates/emails/<mail>/
    # What that mail carries that a deadline is judged by ("decision" or "extension",
    # cases.models.Carries): the deadline is kept when it is sent, not when the step is taken.
    communicates: str = ""
    officer_mail: str = ""  # ... when an officer takes it instead, if that mail differs
    # When the subject takes it, the controller's officers are told so, in these words.
    officer_notice: Promise | str = ""
    # ID copies are destroyed after it: identity is decided, or the case has ended ...
    decides_identity: bool = False
    # ... or only when taken from these states (asking again rejects the copy under review).
    decides_identity_from: tuple[str, ...] = ()
    id_result: str = ""  # what the record keeps of the copy's fate, instead of the copy
    # The subject's status page: its heading, button, notice once done, and an instruction
    # (which may name %(fields)s, the fields to black out on an ID copy).
    subject_label: Promise | str = ""
    subject_button: Promise | str = ""
    subject_done: Promise | str = ""
    subject_help: Promise | str = ""

    def fields_for(self, who: Who) -> tuple[Field, ...]:
        return self.subject_fields if who == "subject" else self.fields if who == "officer" else ()

    def decides_identity_when(self, source: str) -> bool:
        return self.decides_identity or source in self.decides_identity_from

    def needs_message(self, who: Who) -> bool:
        return any(f.kind == "message" and f.required for f in self.fields_for(who))


def _message(label: Promise, *, required: bool = True) -> Field:
    return Field("message", "message", label, required=required)


_OPTIONAL_MESSAGE = _message(_("Message to the subject"), required=False)
_QUESTION = _message(_("Your question"))

STEPS: dict[str, Step] = {
    step.name: step
    for step in [
        Step(
            "confirm_email",
            label=_("Confirm on the subject's behalf"),
            event=_("Email address confirmed"),
            who=frozenset({"subject", "officer"}),
            transition="confirm_email",
            officer_only_off_web=True,
            mail="confirmed",
            # Recorded from a call or a letter: nobody confirmed anything, nobody is thanked.
            officer_mail="recorded",
        ),
        Step(
            "expire",
            label=_("Expire"),
            event=_("Expired: never confirmed"),
            closes=True,
            who=frozenset({"system"}),
            transition="expire",
            # The subject is told it ended, and that nothing was done (the address had never
            # been confirmed: the mail says no more than the confirmation mail did).
            mail="expired",
            decides_identity=True,
        ),
        Step(
            "ask_identity",
            label=_("Ask for proof of identity"),
            event=_("Proof of identity asked"),
            who=frozenset({"officer"}),
            transition="ask_identity",
            fields=(
                _QUESTION,
                # Art. 12(6): the doubt is the only reason to ask, and pauses the clock.
                # Required unless the controller's rule demands an ID copy of everyone: asking
                # again for that copy (an unreadable scan) pauses nothing (Case.ask_identity).
                Field(
                    "doubt",
                    "text",
                    _(
                        "Reasonable doubt about this subject's identity, if any (kept in the "
                        "record; only this pauses the clock)"
                    ),
                    required=False,
                    max_length=2000,
                ),
            ),
            mail="question",
            decides_identity_from=(State.IDENTITY_REVIEW,),
            id_result="not accepted; a new document was asked for",
        ),
        Step(
            "submit_identity",
            label=_("Send proof of identity"),
            event=_("Proof of identity received"),
            who=frozenset({"subject"}),
            transition="submit_identity",
            subject_fields=(
                Field("id_document", "document", _("Copy of your ID document")),
                Field("note", "message", _("Note"), required=False, max_length=2000),
            ),
            officer_notice=_("the subject sent proof of identity."),
            subject_label=_("Send proof of identity"),
            subject_button=_("Upload"),
            subject_done=_("Thank you, your document has been received."),
            # %(fields)s: what the controller's country and statement say to black out.
            subject_help=_(
                "Before uploading, black out: %(fields)s. PDF, JPEG or PNG, at most 10 MB."
            ),
        ),
        Step(
            "approve_identity",
            label=_("Approve identity"),
            event=_("Identity approved"),
            who=frozenset({"officer"}),
            transition="approve_identity",
            fields=(
                Field("name_matches", "check", _("The name on the document matches the request")),
                Field(
                    "masked",
                    "check",
                    _("Nothing beyond what is needed is readable (photo, BSN, MRZ masked)"),
                    required=False,
                ),
            ),
            decides_identity=True,
            id_result="approved",
        ),
        Step(
            "reject_identity",
            label=_("Reject identity (refuse, Art. 12(6))"),
            event=_("Identity rejected: refused (Art. 12(6))"),
            closes=True,
            who=frozenset({"officer"}),
            transition="refuse",
            only_from=(State.IDENTITY_REVIEW,),
            fields=(
                Field(
                    "reason",
                    "text",
                    _("Why the document does not confirm the identity (sent to the subject)"),
                ),
                _OPTIONAL_MESSAGE,
            ),
            fixed={"ground": RefusalGround.IDENTITY_NOT_CONFIRMED},
            records_ground=True,
            mail="refused",
            communicates="decision",
            decides_identity=True,
            id_result="rejected",
        ),
        Step(
            "ask_subject",
            # The clock pauses only for this (EDPB 01/2022 §159): the label says so.
            label=_("Ask to clarify an unclear request (the clock pauses)"),
            event=_("Question to clarify the request (clock paused)"),
            who=frozenset({"officer"}),
            transition="ask_subject",
            fields=(_QUESTION,),
            mail="question",
        ),
        Step(
            "ask_question",
            label=_("Ask the subject another question (the clock runs)"),
            event=_("Question to the subject"),
            who=frozenset({"officer"}),
            transition="ask_question",
            fields=(_QUESTION,),
            mail="question",
        ),
        Step(
            "record_objection",
            label=_("Record what the objection is to"),
            event=_("What the objection is to recorded"),
            who=frozenset({"officer"}),
            transition="record_objection",
            rights=(Right.OBJECTION,),
            fields=(
                Field(
                    "objection_to",
                    "choice",
                    _("The objection is to"),
                    choices=tuple(ObjectionTo.choices),
                ),
            ),
            records=("objection_to",),
        ),
        Step(
            "answer",
            label=_("Answer the company"),
            event=_("Answer from the subject"),
            who=frozenset({"subject"}),
            transition="answer",
            subject_fields=(Field("answer", "message", _("Your answer")),),
            officer_notice=_("the subject answered the question."),
            subject_label=_("Answer the company"),
            subject_button=_("Send answer"),
            subject_done=_("Thank you, your answer has been sent."),
        ),
        Step(
            "extend",
            label=_("Extend the period"),
            event=_("Period extended (Art. 12(3))"),
            who=frozenset({"officer"}),
            transition="extend",
            fields=(
                Field("reason", "text", _("Reasons for the extension (sent to the subject)")),
                _OPTIONAL_MESSAGE,
            ),
            mail="extended",
            communicates="extension",
        ),
        Step(
            "prepare_response",
            label=_("Prepare the response"),
            event=_("Response prepared"),
            who=frozenset({"officer"}),
            transition="prepare_response",
            fields=(
                Field("response", "text", _("The response to the subject"), initial="response"),
            ),
        ),
        Step(
            "answer_no_data",
            label=_("No data held: answer so (not a refusal)"),
            event=_("Answered: no data held (Art. 15(1))"),
            who=frozenset({"officer"}),
            transition="answer_no_data",
            # The negative confirmation, in the subject's language, approved and sent next.
            records=("response",),
        ),
        Step(
            "reopen",
            label=_("Reopen the response"),
            event=_("Response reopened"),
            who=frozenset({"officer"}),
            transition="reopen",
        ),
        Step(
            "complete",
            label=_("Approve and send the response"),
            # The click: the response leaves with its mail ("Decision sent to the subject").
            event=_("Response approved: completed"),
            closes=True,
            who=frozenset({"officer"}),
            transition="complete",
            fields=(
                Field("partial_ground", "ground", _("Legal ground"), required=False),
                Field(
                    "partial_reason",
                    "text",
                    _("If part of the request is refused: why"),
                    required=False,
                ),
                Field(
                    "partial_evidence",
                    "text",
                    _("For Art. 12(5): the evidence (kept in the record, not sent)"),
                    required=False,
                ),
                _OPTIONAL_MESSAGE,
            ),
            records_ground=True,
            records=("response",),
            mail="completed",
            communicates="decision",
            decides_identity=True,
        ),
        Step(
            "refuse",
            label=_("Refuse"),
            event=_("Refused"),
            closes=True,
            who=frozenset({"officer"}),
            transition="refuse",
            fields=(
                Field("ground", "ground", _("Legal ground")),
                Field("reason", "text", _("The reasons (sent to the subject)")),
                Field(
                    "evidence",
                    "text",
                    _("For Art. 12(5): the evidence (kept in the record, not sent)"),
                    required=False,
                ),
                _OPTIONAL_MESSAGE,
            ),
            records_ground=True,
            mail="refused",
            communicates="decision",
            decides_identity=True,
        ),
        Step(
            "withdraw",
            label=_("Record a withdrawal"),
            event=_("Withdrawn"),
            closes=True,
            who=frozenset({"subject", "officer"}),
            transition="withdraw",
            fields=(_message(_("Note on how the subject withdrew"), required=False),),
            subject_fields=(Field("confirm", "confirm", _("Yes, withdraw my request")),),
            mail="withdrawn",
            decides_identity=True,
            officer_notice=_("the subject withdrew the request."),
            subject_label=_("Withdraw your request"),
            subject_button=_("Withdraw request"),
            subject_done=_("Your request has been withdrawn."),
        ),
        Step(
            "message",
            label=_("Send a message"),
            event=_("Message to the subject"),
            who=frozenset({"officer"}),
            # Any time once the address is confirmed, after the end too (a question about it).
            only_from=(*OPEN_STATES, *(s for s in FINAL_STATES if s != State.EXPIRED)),
            fields=(_message(_("Message to the subject")),),
            mail="message",
        ),
    ]
}


def register(step: Step, *, before: str | None = None) -> None:
    """Add a room's step to the table, where the officer's buttons should list it: before the
    step ``before``, else last. A name already in the table, the core's or another room's, is
    an error."""
    if step.name in STEPS:
        raise ValueError(f"step {step.name!r} is declared twice")
    if before is not None and before not in STEPS:
        raise ValueError(f"step {step.name!r}: no step {before!r} to stand before")
    entries = list(STEPS.items())
    at = len(entries) if before is None else [name for name, _ in entries].index(before)
    entries.insert(at, (step.name, step))
    # The same dict, refilled: every module that imported STEPS reads the new order.
    STEPS.clear()
    STEPS.update(entries)
