"""The queue: most urgent first, filters, badges, staff entry, bulk actions, and scale."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.admin import CaseAdmin
from bench.rows import clone_cases
from cases.actors import Actor
from cases.models import Case, CaseEvent, Channel, OutgoingMail, State
from cases.selectors import deadline_badge
from cases.workflow import perform

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
AMS = ZoneInfo("Europe/Amsterdam")
QUEUE = "admin:dsar_case_changelist"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=AMS)


def queue(client, **params) -> str:
    response = client.get(reverse(QUEUE), params)
    assert response.status_code == 200
    return response.content.decode()


def references(html: str) -> list[str]:
    return re.findall(r">(DSAR-\d{4}-\d{6})</a>", html)


@pytest.fixture
def officer(client, cast):
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    return client


def test_the_most_urgent_request_comes_first(cast, submit, officer):
    later = submit(cast.a, received_at=at("2026-03-10T10:00"))
    sooner = submit(cast.a, received_at=at("2026-03-02T10:00"), email="b@example.org")
    assert references(queue(officer)) == [sooner.reference, later.reference]


def test_unconfirmed_requests_are_hidden_unless_asked_for(cast, submit, officer):
    confirmed = submit(cast.a)
    unconfirmed = submit(cast.a, confirm=False, email="u@example.org")
    assert references(queue(officer)) == [confirmed.reference]
    assert references(queue(officer, state="unconfirmed")) == [unconfirmed.reference]
    assert set(references(queue(officer, state="all"))) == {
        confirmed.reference,
        unconfirmed.reference,
    }


def test_deadline_filters(cast, submit, officer):
    with time_machine.travel(at("2026-04-07T09:00"), tick=False):
        overdue = submit(cast.a, received_at=at("2026-02-20T10:00"))  # due 20 March
        today = submit(cast.a, received_at=at("2026-03-05T10:00"), email="t@example.org")  # 7 April
        week = submit(cast.a, received_at=at("2026-03-09T10:00"), email="w@example.org")  # 9 April
        later = submit(cast.a, received_at=at("2026-04-01T10:00"), email="l@example.org")
        assert references(queue(officer, due="overdue")) == [overdue.reference]
        assert references(queue(officer, due="today")) == [today.reference]
        assert references(queue(officer, due="week")) == [today.reference, week.reference]
        html = queue(officer)
    assert later.reference in html
    assert 'class="dsar-badge dsar-overdue"' in html


def test_the_badge_is_red_when_overdue_and_amber_under_a_quarter_left():
    case = Case(received_at=at("2026-03-01T00:00"), effective_deadline=at("2026-03-31T00:00"))
    case._state.adding = False
    assert deadline_badge(case, at("2026-03-10T00:00"))[0] == "ok"
    assert deadline_badge(case, at("2026-03-25T00:00"))[0] == "amber"
    assert deadline_badge(case, at("2026-04-01T00:00"))[0] == "overdue"


def test_assignee_controller_right_and_channel_filters_and_search(cast, submit, officer):
    mine = submit(cast.a, email="mine@example.org")
    other = submit(cast.a, right="erasure", email="other@example.org")
    perform(mine, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    officer.post(reverse(QUEUE), {"action": "assign_to_me", "_selected_action": [mine.pk]})
    assert references(queue(officer, assigned="me")) == [mine.reference]
    assert references(queue(officer, assigned="nobody")) == [other.reference]
    assert references(queue(officer, right__exact="erasure")) == [other.reference]
    assert references(queue(officer, controller=str(cast.a.pk))) != []
    assert references(queue(officer, controller=str(cast.b.pk))) == []
    assert references(queue(officer, channel__exact="web")) != []
    assert references(queue(officer, q="other@example.org")) == [other.reference]
    assert references(queue(officer, q=mine.reference)) == [mine.reference]
    html = queue(officer)
    assert 'class="dsar-mark dsar-paused"' in html


def test_a_duplicate_is_marked(cast, submit, officer):
    submit(cast.a)
    submit(cast.a)
    assert 'class="dsar-mark dsar-duplicate"' in queue(officer)


def test_staff_entry_records_the_real_time_of_receipt(cast, officer):
    response = officer.post(
        reverse("admin:dsar_case_add"),
        {
            "controller": cast.a.pk,
            "right": "access",
            "channel": Channel.PHONE,
            "received_at": "2026-03-05T10:00",
            "name": "Piet",
            "email": "piet@example.org",
            "language": "nl",
            "details": "Called on Thursday",
        },
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.channel == Channel.PHONE
    assert case.received_at == at("2026-03-05T10:00")
    assert case.effective_deadline == at("2026-04-07T23:59:59")
    assert case.state == State.IN_PROGRESS
    # The officer's record stands for confirmation: no confirmation link, the status link instead.
    kinds = list(OutgoingMail.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == ["recorded"]  # recorded, not "thank you for confirming"
    first, second = CaseEvent.objects.filter(case=case)
    assert (first.action, first.actor_label, first.data["channel"]) == (
        "receive",
        "officer_a",
        "phone",
    )
    assert (second.action, second.actor_label) == ("confirm_email", "officer_a")


def test_staff_entry_refuses_a_future_time_and_other_controllers(cast, officer):
    data = {
        "controller": cast.a.pk,
        "right": "access",
        "channel": Channel.POST,
        "received_at": "2099-01-01T10:00",
        "name": "Piet",
        "email": "piet@example.org",
        "language": "nl",
    }
    response = officer.post(reverse("admin:dsar_case_add"), data)
    assert response.status_code == 400 and "cannot be in the future" in response.content.decode()
    data.update(received_at="2026-03-01T10:00", controller=cast.b.pk)  # not officer_a's
    response = officer.post(reverse("admin:dsar_case_add"), data)
    assert response.status_code == 400
    assert not Case.objects.exists()


def test_bulk_refuse_goes_through_the_workflow_for_each_request(cast, submit, officer, committed):
    spam = [submit(cast.a, email=f"bot{i}@example.org") for i in range(3)]
    done = submit(cast.a, email="done@example.org")
    perform(done, "prepare_response", actor=Actor.officer(cast.officer_a), response="Here.")
    perform(done, "complete", actor=Actor.officer(cast.officer_a))
    sent = len(mail.outbox)
    response = committed(
        officer.post,
        reverse(QUEUE) + "?state=all",
        {
            "action": "bulk_refuse",
            "_selected_action": [r.pk for r in [*spam, done]],
            "apply": "1",
            "ground": "unfounded_or_excessive",
            "reason": "Automated submissions",
            "evidence": "Three requests in one second from one IP address.",
            "message": "This was not a genuine request.",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "3 requests refused." in html
    assert done.reference in html  # reported as refused: it is already completed
    for case in spam:
        case.refresh_from_db()
        assert case.state == State.REFUSED and case.refusal_ground == "unfounded_or_excessive"
        assert CaseEvent.objects.filter(case=case, action="refuse").count() == 1
    assert len(mail.outbox) == sent + 3


def test_bulk_refuse_first_asks_for_the_ground(cast, submit, officer):
    case = submit(cast.a)
    response = officer.post(
        reverse(QUEUE), {"action": "bulk_refuse", "_selected_action": [case.pk]}
    )
    assert response.status_code == 200 and 'name="ground"' in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS


def test_assign_to_offers_only_officers_of_the_controller(cast, submit, officer):
    from django.contrib.auth import get_user_model

    from controllers.models import Membership, Role

    colleague = get_user_model().objects.create_user("colleague", is_staff=True)
    Membership.objects.create(user=colleague, controller=cast.a, role=Role.OFFICER)
    case = submit(cast.a)
    page = officer.post(
        reverse(QUEUE), {"action": "assign_to_someone", "_selected_action": [case.pk]}
    )
    html = page.content.decode()
    assert "colleague" in html and "officer_b" not in html and "auditor_a" not in html
    officer.post(
        reverse(QUEUE),
        {
            "action": "assign_to_someone",
            "_selected_action": [case.pk],
            "apply": "1",
            "assignee": colleague.pk,
        },
    )
    case.refresh_from_db()
    assert case.assigned_to == colleague
    officer.post(
        reverse(QUEUE),
        {
            "action": "assign_to_someone",
            "_selected_action": [case.pk],
            "apply": "1",
            "assignee": cast.officer_b.pk,
        },
    )
    case.refresh_from_db()
    assert case.assigned_to == colleague  # officer_b is not a choice


def test_a_step_form_shows_the_subject_s_language_and_refuses_bad_input(cast, submit, officer):
    case = submit(cast.a, language="en")
    url = reverse("admin:dsar_case_step", args=[case.pk, "refuse"])
    page = officer.get(url).content.decode()
    assert "Write it in English, the language the subject used." in page
    assert 'value="other"' not in page  # no catch-all ground is offered (legal.md §4)
    response = officer.post(url, {"ground": "other", "reason": "Because."})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    response = officer.post(url, {"ground": "cannot_identify", "reason": ""})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS


def test_the_queue_of_100000_requests_renders_in_queries_that_do_not_grow_with_page_size(
    cast, submit, officer, monkeypatch
):
    clone_cases(submit(cast.a), 100_000 - 1)
    assert Case.objects.filter(state=State.IN_PROGRESS).count() == 100_000
    counts = {}
    for size in (20, 200):
        monkeypatch.setattr(CaseAdmin, "list_per_page", size)
        with CaptureQueriesContext(connection) as queries:
            html = queue(officer)
        assert len(references(html)) == size
        counts[size] = len(queries)
    assert counts[20] == counts[200], counts
    assert counts[20] <= 15, counts


def test_staff_entry_refuses_a_time_before_the_gdpr(cast, officer):
    response = officer.post(
        reverse("admin:dsar_case_add"),
        {
            "controller": cast.a.pk,
            "right": "access",
            "channel": Channel.POST,
            "received_at": "0001-01-01T00:05",
            "name": "Piet",
            "email": "piet@example.org",
            "language": "nl",
        },
    )
    assert response.status_code == 400 and "25 May 2018" in response.content.decode()
    assert not Case.objects.exists()


def test_staff_entry_for_a_right_that_needs_an_id_copy_waits_for_it_with_the_clock_running(
    cast, client
):
    """The copy is the controller's routine demand, not a doubt about this subject: the clock
    runs while it is awaited (EDPB 01/2022 §159; docs/legal.md §1)."""
    client.force_login(cast.officer_b)  # Defero asks an ID copy for access
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("admin:dsar_case_add"),
        {
            "controller": cast.b.pk,
            "right": "access",
            "channel": Channel.POST,
            "received_at": "2026-03-05T10:00",
            "name": "Piet",
            "email": "piet@example.org",
            "language": "nl",
        },
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.state == State.AWAITING_IDENTITY and case.paused_since is None
    assert case.pause_reason == ""


def test_bulk_refuse_of_all_selected_across_pages(cast, submit, officer):
    spam = [submit(cast.a, email=f"bot{i}@example.org") for i in range(3)]
    page = officer.post(
        reverse(QUEUE),
        {"action": "bulk_refuse", "_selected_action": [spam[0].pk], "select_across": "1"},
    )
    assert 'name="select_across" value="1"' in page.content.decode()
    officer.post(
        reverse(QUEUE),
        {
            "action": "bulk_refuse",
            "_selected_action": [spam[0].pk],
            "select_across": "1",
            "apply": "1",
            "ground": "unfounded_or_excessive",
            "reason": "Automated submissions.",
            "evidence": "A thousand requests in a minute.",
        },
    )
    assert {r.state for r in Case.objects.filter(pk__in=[r.pk for r in spam])} == {State.REFUSED}


def test_links_from_before_the_rename_lead_to_the_case(cast, submit, officer):
    case = submit(cast.a)
    response = officer.get(f"/admin/dsar/request/{case.pk}/change/")
    assert response.status_code == 301
    assert response["Location"] == reverse("admin:dsar_case_change", args=[case.pk])
    assert officer.get(response["Location"]).status_code == 200
    listed = officer.get("/admin/dsar/request/?state=all")
    assert listed["Location"] == reverse(QUEUE) + "?state=all"
