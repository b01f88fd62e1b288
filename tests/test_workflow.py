"""The state machine: who may take which step, what each step records, and the clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django_fsm import TransitionNotAllowed

from cases.actors import Actor
from cases.models import Case, CaseEvent, Message, RefusalGround, State, Suspension
from cases.workflow import StepNotAllowed, available_steps, perform

AMS = ZoneInfo("Europe/Amsterdam")
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=AMS)


def events(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))


def test_the_state_field_cannot_be_assigned_directly(cast, submit):
    case = submit(cast.a)
    with pytest.raises(AttributeError, match="Direct state modification is not allowed"):
        case.state = State.COMPLETED


def test_a_request_goes_from_receipt_to_completion_one_event_a_step(cast, submit, committed):
    case = submit(cast.a)
    officer = Actor.officer(cast.officer_a)
    for step, arguments in [
        ("ask_subject", {"message": "Which email address do you use with us?"}),
        ("answer", {}),
        ("prepare_response", {"response": "Here is your data."}),
        ("reopen", {}),
        ("prepare_response", {"response": "Here is all of your data."}),
        ("complete", {}),
    ]:
        actor = Actor.subject() if step == "answer" else officer
        before = CaseEvent.objects.filter(case=case).count()
        case = committed(perform, case, step, actor=actor, **arguments)
        # One event a step; the mail that carries the decision adds its own once it is sent.
        sent = 1 if step == "complete" else 0
        assert CaseEvent.objects.filter(case=case).count() == before + 1 + sent
    assert case.state == State.COMPLETED and case.closed_at is not None
    assert events(case) == [
        "receive",
        "confirm_email",
        "ask_subject",
        "answer",
        "prepare_response",
        "reopen",
        "prepare_response",
        "complete",
        "decision_sent",
    ]
    last = CaseEvent.objects.get(case=case, action="complete")
    assert (last.from_state, last.to_state, last.actor_label) == ("ready", "completed", "officer_a")
    assert "Here is all of your data." in mail.outbox[-1].body


@pytest.mark.parametrize("who", ["officer_b", "auditor_a", "staff_without_membership"])
def test_only_the_controller_s_officers_may_act(cast, submit, who):
    case = submit(cast.a)
    with pytest.raises(PermissionDenied):
        perform(case, "ask_subject", actor=Actor.officer(getattr(cast, who)), message="?")
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    assert events(case) == ["receive", "confirm_email"]


def test_an_inactive_officer_may_not_act(cast, submit):
    case = submit(cast.a)
    cast.officer_a.is_active = False
    cast.officer_a.save()
    with pytest.raises(PermissionDenied):
        perform(case, "approve_identity", actor=Actor.officer(cast.officer_a))


def test_a_subject_may_not_take_an_officer_s_step(cast, submit):
    case = submit(cast.a)
    with pytest.raises(PermissionDenied):
        perform(case, "complete", actor=Actor.subject())
    with pytest.raises(PermissionDenied):
        perform(case, "refuse", actor=Actor.subject(), ground="other", reason="x")


def test_a_step_from_the_wrong_state_changes_nothing(cast, submit):
    case = submit(cast.a)
    with pytest.raises(StepNotAllowed):
        perform(case, "complete", actor=Actor.officer(cast.officer_a))
    with pytest.raises(StepNotAllowed):
        perform(case, "no_such_step", actor=Actor.officer(cast.officer_a))
    with pytest.raises(TransitionNotAllowed):
        case.complete(now=at("2026-03-05T10:00"))  # the model itself refuses too
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS and len(events(case)) == 2


def test_available_steps_are_exactly_what_the_actor_may_take_now(cast, submit):
    case = submit(cast.a)
    assert available_steps(case, Actor.officer(cast.officer_a)) == [
        "ask_identity",
        "ask_subject",
        "ask_question",
        "extend",
        "prepare_response",
        "answer_no_data",
        "refuse",
        "withdraw",
        "message",
    ]
    assert available_steps(case, Actor.officer(cast.officer_b)) == []
    assert available_steps(case, Actor.subject()) == ["withdraw"]


def test_asking_the_subject_pauses_the_clock_and_the_answer_adds_the_days(cast, submit):
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    assert case.effective_deadline == at("2026-04-07T23:59:59")
    officer = Actor.officer(cast.officer_a)
    case = perform(
        case, "ask_subject", actor=officer, message="Which one?", now=at("2026-03-10T09:00")
    )
    assert case.paused_since == at("2026-03-10T09:00")
    assert case.effective_deadline == at("2026-04-07T23:59:59")  # unchanged while paused
    case = perform(case, "answer", actor=Actor.subject(), now=at("2026-03-16T20:00"))
    assert case.paused_since is None and case.paused_days == 6
    # 5 April + 6 days = 11 April, a Saturday: moved to Monday 13 April.
    assert case.statutory_deadline == at("2026-04-13T23:59:59")
    assert case.effective_deadline == at("2026-04-13T23:59:59")
    (suspension,) = Suspension.objects.filter(case=case)
    assert suspension.days == 6


def test_the_clock_does_not_pause_where_the_controller_says_so(cast, submit):
    cast.a.rights.update(clock_pauses=False)
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    officer = Actor.officer(cast.officer_a)
    case = perform(case, "ask_subject", actor=officer, message="?", now=at("2026-03-10T09:00"))
    assert case.paused_since is None
    case = perform(case, "answer", actor=Actor.subject(), now=at("2026-03-20T09:00"))
    assert case.paused_days == 0
    assert case.effective_deadline == at("2026-04-07T23:59:59")


def test_an_extension_within_the_first_month_with_reasons(cast, submit):
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    officer = Actor.officer(cast.officer_a)
    with time_machine.travel(at("2026-03-20T10:00"), tick=False):
        with pytest.raises(ValidationError):
            perform(case, "extend", actor=officer, reason="  ", now=at("2026-03-20T10:00"))
        case = perform(
            case,
            "extend",
            actor=officer,
            reason="Data in twelve systems",
            now=at("2026-03-20T10:00"),
        )
        assert case.state == State.IN_PROGRESS
        assert case.effective_deadline == case.extended_deadline == at("2026-06-05T23:59:59")
        event = CaseEvent.objects.filter(case=case).last()
        assert event.action == "extend" and event.data == {"reason": "Data in twelve systems"}
        # Used once: no longer offered, and refused if posted anyway.
        assert "extend" not in available_steps(case, officer)
        with pytest.raises(StepNotAllowed):
            perform(case, "extend", actor=officer, reason="again", now=at("2026-03-21T10:00"))


def test_an_extension_after_the_first_month_is_neither_offered_nor_taken(cast, submit):
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    officer = Actor.officer(cast.officer_a)
    with time_machine.travel(at("2026-04-08T00:00"), tick=False):
        assert "extend" not in available_steps(case, officer)
        with pytest.raises(StepNotAllowed):
            perform(case, "extend", actor=officer, reason="Too late")
    case.refresh_from_db()
    assert case.extended_at is None


def test_a_running_suspension_keeps_the_extension_open(cast, submit):
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    officer = Actor.officer(cast.officer_a)
    perform(case, "ask_subject", actor=officer, message="?", now=at("2026-03-30T10:00"))
    # 8 April is past the unsuspended notice date (7 April), but 9 days of pause have run.
    with time_machine.travel(at("2026-04-08T12:00"), tick=False):
        case = perform(case, "extend", actor=officer, reason="Waiting on the subject")
    assert case.extended_at is not None


def test_an_extension_supersedes_the_declared_promise(cast, submit):
    case = submit(cast.b, right="erasure", received_at=at("2026-03-05T10:00"))  # Defero
    assert case.effective_deadline == at("2026-04-02T23:59:59")
    with time_machine.travel(at("2026-03-20T10:00"), tick=False):
        case = perform(case, "extend", actor=Actor.officer(cast.officer_b), reason="Archive")
    assert case.effective_deadline == at("2026-06-05T23:59:59")


def test_a_declared_promise_is_the_effective_deadline(cast, submit):
    # Defero promises four weeks.
    case = submit(cast.b, right="erasure", received_at=at("2026-03-05T10:00"))
    assert case.declared_deadline == at("2026-04-02T23:59:59")
    assert case.effective_deadline == case.declared_deadline


def test_a_refusal_needs_a_ground_and_its_reasons(cast, submit):
    case = submit(cast.a)
    officer = Actor.officer(cast.officer_a)
    with pytest.raises(ValidationError):
        perform(case, "refuse", actor=officer, ground="because", reason="")
    with pytest.raises(ValidationError, match="no longer a ground"):
        perform(case, "refuse", actor=officer, ground=RefusalGround.OTHER, reason="Because.")
    with pytest.raises(ValidationError, match="subject is told the reasons"):
        perform(
            case, "refuse", actor=officer, ground=RefusalGround.UNFOUNDED_OR_EXCESSIVE, reason=""
        )
    case = perform(
        case,
        "refuse",
        actor=officer,
        ground=RefusalGround.UNFOUNDED_OR_EXCESSIVE,
        reason="The same request for the twelfth time this month.",
        evidence="Twelve identical requests from this address since 1 March (DSAR-2026-…).",
    )
    assert case.state == State.REFUSED
    event = CaseEvent.objects.filter(case=case).last()
    assert event.ground == RefusalGround.UNFOUNDED_OR_EXCESSIVE


def test_a_refusal_mails_the_art_12_4_notice_with_the_authority(cast, submit, committed):
    case = submit(cast.b)
    committed(
        perform,
        case,
        "refuse",
        actor=Actor.officer(cast.officer_b),
        ground=RefusalGround.NATIONAL_LAW,
        reason="The recording is part of a criminal investigation.",
    )
    notice = mail.outbox[-1]
    assert "Autoriteit Persoonsgegevens" in notice.body
    assert cast.b.supervisory_authority.complaint_url in notice.body
    assert "The recording is part of a criminal investigation." in notice.body
    # Art. 23: the ground names the Dutch provision (defero is a Dutch controller).
    assert "art. 41 Uitvoeringswet" in notice.body and "art. 23" in notice.body.lower()


def test_a_partial_refusal_on_completion_records_its_ground(cast, submit, committed):
    case = submit(cast.a)
    officer = Actor.officer(cast.officer_a)
    perform(case, "prepare_response", actor=officer, response="Most of it.")
    case = committed(
        perform,
        case,
        "complete",
        actor=officer,
        partial_ground=RefusalGround.RIGHTS_OF_OTHERS,
        partial_reason="Notes about other people are left out.",
    )
    assert case.partial_refusal is True
    assert CaseEvent.objects.get(case=case, action="complete").ground == (
        RefusalGround.RIGHTS_OF_OTHERS
    )
    with_translation = mail.outbox[-1].body
    assert "Notes about other people are left out." in with_translation


def test_a_rollback_after_a_step_leaves_nothing_and_sends_nothing(cast, submit, committed):
    from django.db import transaction

    case = submit(cast.a)
    sent = len(mail.outbox)

    def step_then_fail():
        with transaction.atomic():
            perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
            raise RuntimeError("something later in the same transaction failed")

    with pytest.raises(RuntimeError):
        committed(step_then_fail)
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    assert events(case) == ["receive", "confirm_email"]
    assert not Message.objects.filter(case=case).exists()
    assert len(mail.outbox) == sent


def test_a_new_request_like_an_open_one_is_linked_as_a_duplicate(cast, submit):
    first = submit(cast.a, email="Jan@Example.org")
    second = submit(cast.a, email="jan@example.org", confirm=False)
    assert second.duplicate_of == first
    event = CaseEvent.objects.filter(case=second).first()
    assert event.data["duplicate_of"] == first.reference
    other_right = submit(cast.a, right="erasure", confirm=False)
    assert other_right.duplicate_of is None
    perform(first, "withdraw", actor=Actor.subject())
    after_close = submit(cast.a, confirm=False)
    assert after_close.duplicate_of == second  # the closed one no longer counts


def test_an_officer_message_is_recorded_and_mailed(cast, submit, committed):
    case = submit(cast.a)
    committed(
        perform, case, "message", actor=Actor.officer(cast.officer_a), message="We are on it."
    )
    assert events(case)[-1] == "message"
    assert "We are on it." in mail.outbox[-1].body
    with pytest.raises(PermissionDenied):
        perform(case, "message", actor=Actor.officer(cast.officer_b), message="Hello")
    with pytest.raises(ValidationError):
        perform(case, "message", actor=Actor.officer(cast.officer_a), message=" ")


def test_an_unconfirmed_request_expires_by_the_system_only(cast, submit):
    case = submit(cast.a, confirm=False)
    with pytest.raises(PermissionDenied):
        perform(case, "expire", actor=Actor.officer(cast.officer_a))
    case = perform(case, "expire", actor=Actor.system())
    assert case.state == State.EXPIRED
    assert CaseEvent.objects.filter(case=case).last().actor_label == "system"


def test_the_suspension_is_recorded_in_the_chain(cast, submit):
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    officer = Actor.officer(cast.officer_a)
    perform(case, "ask_subject", actor=officer, message="?", now=at("2026-03-10T09:00"))
    assert CaseEvent.objects.filter(case=case).last().data == {"clock_paused": "clarification"}
    perform(case, "answer", actor=Actor.subject(), now=at("2026-03-16T20:00"))
    assert CaseEvent.objects.filter(case=case).last().data["suspension"] == {
        "since": "2026-03-10T08:00:00+00:00",  # stored in UTC
        "days_added": 6,
        "reason": "clarification",
    }


def test_a_refusal_after_the_first_month_is_flagged_late(cast, submit):
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    perform(
        case,
        "refuse",
        actor=Actor.officer(cast.officer_a),
        ground=RefusalGround.CANNOT_IDENTIFY,
        reason="Nothing we hold links to this address.",
        now=at("2026-04-10T10:00"),
    )
    assert CaseEvent.objects.filter(case=case).last().data["late_refusal"] is True


def test_a_superuser_without_membership_acts_on_nothing(cast, submit):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser(
        "root", "root@example.org", "pw-for-tests-2026"
    )
    case = submit(cast.a)
    with pytest.raises(PermissionDenied):
        perform(case, "ask_subject", actor=Actor.officer(root), message="?")


def test_unconfirmed_requests_expire_after_seven_days_and_lose_their_id_copy(
    cast, submit, committed
):
    from cases import iddocs
    from reminders.tasks import expire_unconfirmed

    with time_machine.travel(at("2026-03-01T10:00"), tick=False):
        old = submit(cast.b, confirm=False)
        iddocs.store(old, iddocs.CheckedDocument(b"%PDF-1.4\n%%EOF", "application/pdf"))
    with time_machine.travel(at("2026-03-07T10:00"), tick=False):
        recent = submit(cast.b, confirm=False, email="recent@example.org")
    with time_machine.travel(at("2026-03-08T10:01"), tick=False):
        assert committed(expire_unconfirmed) == 1
        assert committed(expire_unconfirmed) == 0
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.state == State.EXPIRED and not old.id_documents.exists()
    assert recent.state == State.UNCONFIRMED
