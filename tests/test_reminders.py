"""Deadline milestones: each sent once, on schedule, to the right people; time moves, no sleeps."""

from __future__ import annotations

import datetime as dt
import os
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from cases.actors import Actor
from cases.models import Case, Milestone, OutgoingMail
from cases.workflow import perform
from reminders.tasks import sweep_deadlines

from .conftest import require_service

AMS = ZoneInfo("Europe/Amsterdam")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=AMS)


def reminders(case: Case) -> list[tuple[str, str]]:
    return sorted(
        (m.context["milestone"], m.to)
        for m in OutgoingMail.objects.filter(case=case, kind="officer_reminder")
    )


@pytest.fixture
def officers(cast):
    cast.officer_a.email = "officer-a@example.org"
    cast.officer_a.save()
    cast.officer_b.email = "officer-b@example.org"
    cast.officer_b.save()
    return cast


@pytest.mark.django_db
def test_the_schedule_of_a_one_month_request(officers, submit):
    case = submit(officers.a, received_at=at("2026-03-05T10:00"))
    times = case.milestone_schedule()
    # Midway between 5 March 10:00 and 7 April 23:59:59 (a DST change in between).
    assert times["halfway"].astimezone(AMS).date() == dt.date(2026, 3, 22)
    # 7 April 2026; back over Easter Monday, the weekend and Good Friday: Tuesday 31 March.
    assert times["three_days"] == at("2026-03-31T00:00")
    assert times["notice_due"] == at("2026-03-31T00:00")
    assert times["due_today"] == at("2026-04-07T00:00")
    assert times["overdue"] == at("2026-04-07T23:59:59")
    assert case.next_milestone_at == times["halfway"]


@pytest.mark.django_db
def test_a_request_left_alone_gets_each_reminder_once_on_schedule(officers, submit, committed):
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        case = submit(officers.a)
    steps = [
        ("2026-03-20T10:00", []),
        ("2026-03-22T10:00", [("halfway", "officer-a@example.org")]),
        ("2026-03-22T10:05", []),  # the next sweep sends nothing again
        (
            "2026-03-31T08:00",
            [("notice_due", "officer-a@example.org"), ("three_days", "officer-a@example.org")],
        ),
        ("2026-04-07T08:00", [("due_today", "officer-a@example.org")]),
        ("2026-04-08T08:00", [("overdue", "officer-a@example.org")]),
        ("2026-04-20T08:00", []),
    ]
    seen: list[tuple[str, str]] = []
    for moment, expected in steps:
        with time_machine.travel(at(moment), tick=False):
            committed(sweep_deadlines)
        new = [r for r in reminders(case) if r not in seen]
        assert sorted(new) == sorted(expected), moment
        seen += new
    case.refresh_from_db()
    assert case.next_milestone_at is None
    assert Milestone.objects.filter(case=case).count() == 5
    assert all("DSAR-" in m.subject for m in mail.outbox if m.to == ["officer-a@example.org"])


@pytest.mark.django_db
def test_overdue_goes_to_the_dpo_too_and_to_the_assignee_only(officers, submit, committed):
    from controllers.models import Membership, Role

    smartlockr = officers.a.__class__.objects.get(slug="smartlockr")
    Membership.objects.create(user=officers.officer_b, controller=smartlockr, role=Role.OFFICER)
    Membership.objects.create(user=officers.officer_a, controller=smartlockr, role=Role.OFFICER)
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        case = submit(smartlockr, right="erasure")  # 48 hours, declared
        from cases.workflow import assign

        assign(case, actor=Actor.officer(officers.officer_b), assignee=officers.officer_b)
    with time_machine.travel(at("2026-03-08T10:00"), tick=False):
        committed(sweep_deadlines)
    overdue = [to for kind, to in reminders(case) if kind == "overdue"]
    assert overdue == ["fg@smartlockr.eu", "officer-b@example.org"]
    assert "officer-a@example.org" not in {to for _, to in reminders(case)}


@pytest.mark.django_db
def test_no_reminder_while_the_clock_is_paused_or_after_closing(officers, submit, committed):
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        case = submit(officers.a)
        case = perform(case, "ask_subject", actor=Actor.officer(officers.officer_a), message="?")
    assert case.next_milestone_at is None
    with time_machine.travel(at("2026-04-20T10:00"), tick=False):
        committed(sweep_deadlines)
        assert reminders(case) == []
        case = perform(case, "answer", actor=Actor.subject())
    assert case.next_milestone_at is not None  # running again, with the days added
    with time_machine.travel(at("2026-04-20T10:05"), tick=False):
        perform(case, "withdraw", actor=Actor.subject())
        committed(sweep_deadlines)
    assert reminders(case) == []


@pytest.mark.django_db
def test_the_sweep_reads_only_what_is_due(officers, submit, committed):
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        submit(officers.a)
    with time_machine.travel(at("2026-03-25T10:00"), tick=False):
        for number in range(30):
            submit(officers.a, email=f"later{number}@example.org")
    with (
        time_machine.travel(at("2026-03-22T10:00"), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        assert committed(sweep_deadlines) == 1
    # The not-yet-due requests are never loaded: a handful of queries, not one per request.
    assert len(queries) < 25, len(queries)


@pytest.mark.django_db
def test_the_unconfirmed_subject_is_reminded_once_after_a_day(officers, submit, committed):
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        case = submit(officers.a, confirm=False)
    confirms = lambda: OutgoingMail.objects.filter(case=case, kind="confirm").count()  # noqa: E731
    with time_machine.travel(at("2026-03-06T09:00"), tick=False):
        committed(sweep_deadlines)
    assert confirms() == 1
    with time_machine.travel(at("2026-03-06T10:30"), tick=False):
        committed(sweep_deadlines)
        committed(sweep_deadlines)
    assert confirms() == 2
    assert mail.outbox[-1].to == [case.email]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_the_same_time_send_each_milestone_once(officers, submit):
    require_service(
        os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        "needs PostgreSQL: SQLite serialises writers, so there is no race to test",
    )
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        cases = [submit(officers.a, email=f"s{n}@example.org") for n in range(10)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            sweep_deadlines()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    with time_machine.travel(at("2026-04-08T08:00"), tick=False):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    for case in cases:
        kinds = [kind for kind, _ in reminders(case)]
        assert (
            sorted(kinds)
            == sorted(set(kinds))
            == [
                "due_today",
                "halfway",
                "notice_due",
                "overdue",
                "three_days",
            ]
        )


@pytest.mark.django_db
def test_the_notice_reminder_waits_for_an_extension_notice_that_reached_the_subject(
    officers, submit
):
    """An extension clicked but not sent (the broker was down, the mail bounced) has told the
    subject nothing: the officer is still reminded that a notice must reach them; once it left,
    not."""
    from cases.mail import deliver
    from cases.models import Carries

    case = submit(officers.a, received_at=at("2026-03-05T10:00"))
    with time_machine.travel(at("2026-03-20T10:00"), tick=False):
        case = perform(case, "extend", actor=Actor.officer(officers.officer_a), reason="Busy.")
    assert "notice_due" in case.milestone_schedule()
    mail = OutgoingMail.objects.get(case=case, carries=Carries.EXTENSION)
    with time_machine.travel(at("2026-03-20T10:05"), tick=False):
        deliver(mail.pk)
    case.refresh_from_db()
    assert "notice_due" not in case.milestone_schedule()
