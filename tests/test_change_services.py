"""The services a change right's steps call (``fulfilment.hooks`` only dispatches to them):
what they write is dated by the step's ``now``, never the wall clock, so that a history taken
through the steps with the clock set back reads as it happened."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from cases.actors import Actor
from cases.models import CaseEvent, Direction, OutgoingMail
from cases.workflow import perform
from fulfilment.changes import plans

from .demo_world import drive_to_work, nothing_disclosed, poll_until_settled
from .test_change_letters import approve, confirm_manual

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_the_completion_letter_and_the_lifting_s_notice_are_dated_by_the_step(world, committed):
    controller, officer = world["controllers"]["contractstatus"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, controller, officer, "restriction")
    approve(committed, case, officer)
    for remote in case.changes.filter(kind="http"):
        poll_until_settled(committed, remote)
    confirm_manual(committed, case, officer)
    nothing_disclosed(committed, case, officer)
    case = committed(perform, case, "prepare_response", actor=actor, response="Done.")
    # Hours from the wall clock: a service that read it instead would stand out.
    sent = timezone.now() + dt.timedelta(hours=3)
    case = committed(perform, case, "complete", actor=actor, now=sent)

    letter = case.messages.get(direction=Direction.TO_SUBJECT, body__contains="restrict")
    assert letter.created_at == sent
    assert CaseEvent.objects.get(case=case, action="completion_letter").at == sent
    assert OutgoingMail.objects.get(case=case, kind="change_report").created_at == sent

    lift = committed(plans.make, case, actor=actor, purpose=plans.LIFT)
    told = sent + dt.timedelta(hours=2)
    committed(
        perform,
        case,
        "lift_restriction",
        actor=actor,
        plan=lift.sha256,
        reason="Klaar.",
        message="Tot ziens.",
        now=told,
    )
    notice = OutgoingMail.objects.get(case=case, kind="lift_notice")
    lift_on = told + dt.timedelta(days=settings.RESTRICTION_LIFT_NOTICE_DAYS)
    assert notice.created_at == told
    assert notice.context["lift_on"] == lift_on.date().isoformat()
    assert (notice.context["reason"], notice.context["message"]) == ("Klaar.", "Tot ziens.")
    lift.refresh_from_db()
    assert lift.approved_at == told
    assert {e.next_attempt_at for e in lift.changes.exclude(kind="manual")} == {lift_on}
