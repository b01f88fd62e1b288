"""The data subject's journey through the public site, in the test client."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from cases.actors import Actor
from cases.models import Case, CaseEvent, State
from cases.workflow import perform
from controllers.models import Membership, Role

from .pdfs import MINIMAL_PDF


def link_in(message, pattern: str) -> str:
    match = re.search(pattern, message.body)
    assert match, message.body
    return match.group(0).replace("http://127.0.0.1:8000", "")


@pytest.mark.django_db
def test_a_subject_submits_confirms_answers_and_withdraws(loaded_controllers, client, committed):
    response = committed(
        client.post,
        reverse("request_form", args=["smart-site"]),
        {"right": "access", "name": "Jan Jansen", "email": "jan@example.org", "details": ""},
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.state == State.UNCONFIRMED
    assert re.fullmatch(r"DSAR-\d{4}-000001", case.reference)
    page = client.get(response["Location"])
    assert case.reference in page.content.decode()

    (confirm_mail,) = mail.outbox
    assert confirm_mail.to == ["jan@example.org"]
    assert case.reference in confirm_mail.subject
    confirm_path = link_in(confirm_mail, r"http://\S+/confirm/\S+/")
    assert client.get(confirm_path).status_code == 200  # a GET (mail scanners) confirms nothing
    case.refresh_from_db()
    assert case.state == State.UNCONFIRMED
    response = committed(client.post, confirm_path)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    status_path = response["Location"]
    confirmed_mail = mail.outbox[-1]
    assert status_path in confirmed_mail.body

    user = get_user_model().objects.create_user("officer", is_staff=True)
    Membership.objects.create(user=user, controller=case.controller, role=Role.OFFICER)
    committed(perform, case, "ask_subject", actor=Actor.officer(user), message="Which account?")
    page = client.get(status_path).content.decode()
    assert "Which account?" in page and 'name="answer-answer"' in page

    response = committed(
        client.post, status_path, {"action": "answer", "answer-answer": "The one ending in 42."}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    assert "The one ending in 42." in client.get(status_path).content.decode()

    response = committed(client.post, status_path, {"action": "withdraw", "withdraw-confirm": "on"})
    case.refresh_from_db()
    assert case.state == State.WITHDRAWN
    actions = list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))
    assert actions == ["receive", "confirm_email", "ask_subject", "answer", "withdraw"]


ID_PDF = MINIMAL_PDF


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "right", "needs_id", "state_after_confirming"),
    [
        ("smart-site", "access", False, State.IN_PROGRESS),
        ("smartphoto", "erasure", True, State.IDENTITY_REVIEW),  # ID card for every right
        ("contractstatus", "access", False, State.IN_PROGRESS),
        ("smartlockr", "access", True, State.IDENTITY_REVIEW),  # ID copy for access only
        ("smartlockr", "erasure", False, State.IN_PROGRESS),
        ("defero", "access", True, State.IDENTITY_REVIEW),
        ("defero", "objection", False, State.IN_PROGRESS),
    ],
)
def test_each_controller_s_own_rules_apply_to_its_requests(
    loaded_controllers, client, committed, slug, right, needs_id, state_after_confirming
):
    import io

    fields = {"right": right, "name": "Jan", "email": "jan@example.org", "details": "All of it"}
    if right == "objection":
        # Art. 21(3): the subject says what the objection is to; without it, it is not sent.
        without = client.post(reverse("request_form", args=[slug]), fields)
        assert without.status_code == 400 and "direct marketing" in without.content.decode()
        fields["objection_to"] = "direct_marketing"
    if needs_id:
        without = client.post(reverse("request_form", args=[slug]), fields)
        assert without.status_code == 400  # the rule demands a copy
        upload = io.BytesIO(ID_PDF)
        upload.name = "id.pdf"
        fields["id_document"] = upload
    response = committed(client.post, reverse("request_form", args=[slug]), fields)
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.id_documents.count() == (1 if needs_id else 0)
    declaration = loaded_controllers[slug].declaration(right)
    if declaration.promise is not None:
        assert case.declared_deadline is not None
        assert case.effective_deadline == case.declared_deadline
    else:
        assert case.declared_deadline is None
        assert case.effective_deadline == case.statutory_deadline
    confirm_path = link_in(mail.outbox[0], r"http://\S+/confirm/\S+/")
    committed(client.post, confirm_path)
    case.refresh_from_db()
    assert case.state == state_after_confirming
    assert case.objection_to == ("direct_marketing" if right == "objection" else "")


@pytest.mark.django_db
def test_an_anonymous_submission_writes_no_session(loaded_controllers, client, committed):
    from django.contrib.sessions.models import Session

    response = committed(
        client.post,
        reverse("request_form", args=["smart-site"]),
        {"right": "access", "name": "Jan", "email": "jan@example.org", "details": ""},
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert Case.objects.get().reference in page  # the sent page still names the reference
    assert not Session.objects.exists()
    client.cookies.clear()  # another browser, or the cookie gone: no reference shown
    assert client.get(response["Location"]).status_code == 302


@pytest.mark.django_db
def test_the_duplicate_lookup_reads_the_index_not_the_table(loaded_controllers):
    """Intake at scale: finding an earlier open request of the same address must not read every
    case of the controller (PostgreSQL in CI, SQLite here)."""
    from django.db import connection

    from cases.intake import open_cases_of

    query = open_cases_of(loaded_controllers["smart-site"], "access", "Jan@Example.org")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table would not use it
    assert "case_duplicates_lower_email" in query.explain()
