"""The data subject's journey through the public site, in the test client."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from controllers.models import Membership, Role
from dsar.models import CaseEvent, Request, State
from dsar.workflow import Actor, perform


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
    request = Request.objects.get()
    assert request.state == State.UNCONFIRMED
    assert re.fullmatch(r"DSAR-\d{4}-000001", request.reference)
    page = client.get(response["Location"])
    assert request.reference in page.content.decode()

    (confirm_mail,) = mail.outbox
    assert confirm_mail.to == ["jan@example.org"]
    assert request.reference in confirm_mail.subject
    confirm_path = link_in(confirm_mail, r"http://\S+/confirm/\S+/")
    assert client.get(confirm_path).status_code == 200  # a GET (mail scanners) confirms nothing
    request.refresh_from_db()
    assert request.state == State.UNCONFIRMED
    response = committed(client.post, confirm_path)
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == State.IN_PROGRESS
    status_path = response["Location"]
    confirmed_mail = mail.outbox[-1]
    assert status_path in confirmed_mail.body

    user = get_user_model().objects.create_user("officer", is_staff=True)
    Membership.objects.create(user=user, controller=request.controller, role=Role.OFFICER)
    committed(perform, request, "ask_subject", actor=Actor.officer(user), message="Which account?")
    page = client.get(status_path).content.decode()
    assert "Which account?" in page and 'name="answer-answer"' in page

    response = committed(
        client.post, status_path, {"action": "answer", "answer-answer": "The one ending in 42."}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == State.IN_PROGRESS
    assert "The one ending in 42." in client.get(status_path).content.decode()

    response = committed(client.post, status_path, {"action": "withdraw", "withdraw-confirm": "on"})
    request.refresh_from_db()
    assert request.state == State.WITHDRAWN
    actions = list(CaseEvent.objects.filter(request=request).values_list("action", flat=True))
    assert actions == ["receive", "confirm_email", "ask_subject", "answer", "withdraw"]


ID_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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
    if needs_id:
        without = client.post(reverse("request_form", args=[slug]), fields)
        assert without.status_code == 400  # the rule demands a copy
        upload = io.BytesIO(ID_PDF)
        upload.name = "id.pdf"
        fields["id_document"] = upload
    response = committed(client.post, reverse("request_form", args=[slug]), fields)
    assert response.status_code == 302
    request = Request.objects.get()
    assert request.id_documents.count() == (1 if needs_id else 0)
    declaration = loaded_controllers[slug].declaration(right)
    if declaration.promise is not None:
        assert request.declared_deadline is not None
        assert request.effective_deadline == request.declared_deadline
    else:
        assert request.declared_deadline is None
        assert request.effective_deadline == request.statutory_deadline
    confirm_path = link_in(mail.outbox[0], r"http://\S+/confirm/\S+/")
    committed(client.post, confirm_path)
    request.refresh_from_db()
    assert request.state == state_after_confirming
