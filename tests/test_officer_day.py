"""The officer's day: told when the subject acts, an overview on the admin home page, a queue of
open cases that can be searched by name, and the texts the subject was sent in the case file."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cases.actors import Actor
from cases.links import status_path
from cases.models import CaseEvent, OutgoingMail
from cases.workflow import perform

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
QUEUE = "admin:dsar_case_changelist"


@pytest.fixture
def officer(client, cast):
    cast.officer_a.email = "officer-a@example.org"
    cast.officer_a.save()
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    return client


def references(html: str) -> list[str]:
    return re.findall(r">(DSAR-\d{4}-\d{6})</a>", html)


def test_the_officers_are_told_when_the_subject_answers_on_the_status_page(
    cast, submit, client, committed
):
    cast.officer_a.email = "officer-a@example.org"
    cast.officer_a.save()
    case = submit(cast.a, language="en")
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="Which account?")
    committed(client.post, status_path(case), {"action": "answer", "answer-answer": "The 42 one."})
    notice = OutgoingMail.objects.get(case=case, kind="officer_notice")
    assert notice.to == "officer-a@example.org"
    sent = [m for m in mail.outbox if m.to == ["officer-a@example.org"]][-1]
    assert "the subject answered the question." in sent.body
    assert f"/admin/dsar/case/{case.pk}/change/" in sent.body
    # The subject is not thanked for it by a mail meant for officers, nor told twice.
    assert not OutgoingMail.objects.filter(case=case, kind="officer_reply").exists()


def test_a_withdrawal_on_the_status_page_is_told_to_the_assignee(cast, submit, client, committed):
    colleague = cast.officer_a
    colleague.email = "assignee@example.org"
    colleague.save()
    case = submit(cast.a)
    from cases.workflow import assign

    assign(case, actor=Actor.officer(colleague), assignee=colleague)
    committed(client.post, status_path(case), {"action": "withdraw", "withdraw-confirm": "on"})
    assert OutgoingMail.objects.filter(
        case=case, kind="officer_notice", to="assignee@example.org"
    ).exists()


def test_an_officer_taking_a_step_does_not_notify_the_officers(cast, submit):
    case = submit(cast.a)
    perform(case, "withdraw", actor=Actor.officer(cast.officer_a))
    assert not OutgoingMail.objects.filter(case=case, kind="officer_notice").exists()


def test_the_admin_home_page_shows_what_is_overdue_due_today_and_this_week(cast, submit, officer):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        submit(cast.a, received_at=now - dt.timedelta(days=40))  # overdue
        submit(cast.a, received_at=now - dt.timedelta(days=2), email="x@example.org")
        submit(cast.b, received_at=now - dt.timedelta(days=40), email="b@example.org")  # not hers
        html = officer.get(reverse("admin:index")).content.decode()
    summary = html[html.index("Your queue") :]
    assert "1 overdue" in summary and "2 open" in summary and "2 unassigned" in summary
    assert f'href="{reverse(QUEUE)}?due=overdue"' in summary


def test_the_queue_shows_open_cases_by_default_and_closed_ones_on_request(cast, submit, officer):
    open_ = submit(cast.a)
    closed = submit(cast.a, email="closed@example.org")
    perform(closed, "withdraw", actor=Actor.subject())
    html = officer.get(reverse(QUEUE)).content.decode()
    assert references(html) == [open_.reference]
    assert "Open (to be worked)" in html
    assert references(officer.get(reverse(QUEUE), {"state": "closed"}).content.decode()) == [
        closed.reference
    ]


def test_the_queue_searches_by_name_and_puts_the_deadline_beside_the_reference(
    cast, submit, officer
):
    wanted = submit(cast.a, name="Anneke van der Berg", email="a@example.org")
    submit(cast.a, name="Piet Post", email="p@example.org")
    html = officer.get(reverse(QUEUE), {"q": "van der berg"}).content.decode()
    assert references(html) == [wanted.reference]
    headers = re.findall(r'<th scope="col" class="(?:sortable )?column-(\w+)', html)
    assert headers[:2] == ["reference", "deadline"]


def test_assigning_says_assigned_not_done(cast, submit, officer):
    case = submit(cast.a)
    response = officer.post(
        reverse(QUEUE), {"action": "assign_to_me", "_selected_action": [case.pk]}, follow=True
    )
    assert "1 request assigned." in response.content.decode()


def test_the_case_file_shows_every_text_the_subject_was_sent(cast, submit, officer):
    case = submit(cast.a)
    officer_actor = Actor.officer(cast.officer_a)
    perform(case, "extend", actor=officer_actor, reason="Twelve systems to search.")
    perform(case, "prepare_response", actor=officer_actor, response="Here is <all> of it.")
    perform(
        case,
        "complete",
        actor=officer_actor,
        partial_ground="rights_of_others",
        partial_reason="One mail names your neighbour.",
    )
    html = officer.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    told = html[html.index("What the subject was told") : html.index('id="deadlines-h"')]
    for text in (
        "Twelve systems to search.",
        "The response sent",
        "Here is &lt;all&gt; of it.",
        "Partly refused",
        "One mail names your neighbour.",
    ):
        assert text in told, text
    # And each is in its event, where the hash chain covers it.
    data = {e.action: e.data for e in CaseEvent.objects.filter(case=case)}
    assert data["extend"]["reason"] == "Twelve systems to search."
    assert data["prepare_response"]["response"] == "Here is <all> of it."
    assert data["complete"]["response"] == "Here is <all> of it."
    assert data["complete"]["partial_reason"] == "One mail names your neighbour."


def test_a_refusal_mail_links_the_complaint_and_the_status_page(cast, submit, committed):
    case = submit(cast.a)
    committed(
        perform,
        case,
        "refuse",
        actor=Actor.officer(cast.officer_a),
        ground="unfounded_or_excessive",
        reason="The tenth identical request.",
        evidence="Ten identical requests since Monday.",
    )
    refusal = mail.outbox[-1]
    html = refusal.alternatives[0][0]
    authority = case.controller.supervisory_authority
    assert f'<a href="{authority.complaint_url}">' in html
    assert status_path(case) in html and status_path(case) in refusal.body


def test_a_request_recorded_by_phone_is_not_thanked_for_a_confirmation(cast, client, committed):
    from cases.intake import receive_case

    case = committed(
        receive_case,
        controller=cast.a,
        right="access",
        name="Piet",
        email="piet@example.org",
        language="en",
        channel="phone",
        actor=Actor.officer(cast.officer_a),
    )
    recorded = mail.outbox[-1]
    assert "has been recorded" in recorded.subject
    assert "recorded the request you made" in recorded.body and "(phone)" in recorded.body
    assert "confirming" not in recorded.body
    assert status_path(case) in recorded.body
