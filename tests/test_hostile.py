"""Hostile input on every public form and link: a clear error, nothing half-made, never a 500."""

from __future__ import annotations

import io
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from cases.actors import Actor
from cases.links import confirmation_token, status_path, status_token
from cases.models import Case, CaseEvent, IdDocument, OutgoingMail, State
from cases.workflow import perform

from .images import bomb_png
from .pdfs import MINIMAL_PDF

pytestmark = pytest.mark.django_db

GOOD = {"right": "access", "name": "Jan Jansen", "email": "jan@example.org", "details": ""}


def nothing_stored() -> bool:
    return not (
        Case.objects.exists()
        or CaseEvent.objects.exists()
        or OutgoingMail.objects.exists()
        or IdDocument.objects.exists()
    )


def post_form(client, slug="smart-site", **fields):
    return client.post(reverse("request_form", args=[slug]), {**GOOD, **fields})


def pdf_upload(name="ID.pdf", content=MINIMAL_PDF):
    upload = io.BytesIO(content)
    upload.name = name
    return upload


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"name": ""}, "name", "This field is required"),
        ({"name": "   "}, "name", "This field is required"),
        ({"email": ""}, "email", "This field is required"),
        ({"email": "jan@example.org\r\nBcc: victim@example.com"}, "email", "valid email"),
        ({"email": "not an address"}, "email", "valid email"),
        ({"email": '"\x01x"@example.org'}, "email", "control characters"),
        ({"email": '"a\x7fb"@example.org'}, "email", "control characters"),
        ({"email": "a" * 250 + "@x.nl"}, "email", "at most 254"),
        ({"name": "Jan\r\nBcc: victim@example.com"}, "name", "control characters"),
        ({"name": "Jan\u202eevil"}, "name", "control characters"),  # right-to-left override
        ({"details": "x" * 5001}, "details", "at most 5000 characters"),
        ({"right": "delete_everything"}, "right", "Select a valid choice"),
        ({"right": ""}, "right", "This field is required"),
        ({"right": "rectification", "details": ""}, "details", "Describe what your request"),
        ({"phone": "06\x0712345678"}, "phone", "control characters"),
    ],
)
def test_bad_fields_get_a_clear_error_and_store_nothing(
    loaded_controllers, client, fields, field, message
):
    client.cookies["django_language"] = "en"
    response = post_form(client, **fields)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    error = re.search(rf'id="id_{field}_error">(.*?)</p>', html, re.S).group(1)
    assert message in error
    assert 'aria-invalid="true"' in html
    assert nothing_stored()


def test_a_right_the_controller_does_not_declare_is_accepted_on_the_law_s_terms(
    loaded_controllers, client
):
    client.cookies["django_language"] = "en"
    # Defero does not declare restriction: the law grants it all the same.
    response = post_form(client, "defero", right="restriction", details="Stop it")
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.right == "restriction" and not case.needs_id_document
    assert case.declared_deadline is None  # Defero's four weeks are for what it declares


def test_a_renamed_executable_as_id_pdf_is_refused(loaded_controllers, client):
    client.cookies["django_language"] = "en"
    response = post_form(
        client, "defero", id_document=pdf_upload("ID.pdf", b"MZ\x90\x00" + b"\x00" * 500)
    )
    assert response.status_code == 400
    assert "Only PDF, JPEG and PNG" in response.content.decode()
    assert nothing_stored()


def test_a_missing_id_copy_where_the_rule_asks_one_is_an_error(loaded_controllers, client):
    client.cookies["django_language"] = "en"
    response = post_form(client, "defero")
    assert response.status_code == 400
    assert "asks for a copy of an ID document" in response.content.decode()
    assert nothing_stored()


def test_an_id_copy_is_not_kept_where_the_rule_does_not_ask_one(loaded_controllers, client):
    # Defero asks an ID copy for access only; with erasure the upload is dropped.
    response = post_form(client, "defero", right="erasure", id_document=pdf_upload())
    assert response.status_code == 302
    assert not IdDocument.objects.exists()


def test_a_50_mb_upload_is_refused_before_it_is_read(loaded_controllers, client):
    big = pdf_upload("ID.pdf", b"%PDF-1.4\n" + b"0" * (50 * 1024 * 1024))
    response = post_form(client, "defero", id_document=big)
    assert response.status_code == 413
    assert nothing_stored()


def test_html_and_script_are_escaped_on_pages_and_in_mail(loaded_controllers, client, committed):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = committed(post_form, client, right="rectification", name=hostile, details=hostile)
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.name == hostile  # stored as given: escaping is the renderer's job
    (confirm_mail,) = mail.outbox
    html_body = confirm_mail.alternatives[0][0]
    assert "<script>" not in html_body and "&lt;script&gt;" in html_body
    assert "\n" not in confirm_mail.subject
    case = perform(case, "confirm_email", actor=Actor.subject())
    page = client.get(status_path(case)).content.decode()
    perform(case, "withdraw", actor=Actor.subject())
    assert "<script>alert" not in page and "<img src=x" not in page


def test_a_filled_honeypot_stores_nothing(loaded_controllers, client):
    response = post_form(client, website="http://spam.example")
    assert response.status_code == 400
    assert nothing_stored()


def test_the_rate_limit_refuses_a_burst_from_one_address(loaded_controllers, client, settings):
    settings.INTAKE_RATE_LIMIT = 3
    for _ in range(3):
        assert post_form(client).status_code == 302
    response = post_form(client)
    assert response.status_code == 429
    assert Case.objects.count() == 3
    other = client.post(reverse("request_form", args=["smart-site"]), GOOD, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 302


def test_submissions_arriving_together_cannot_all_pass_the_limit(loaded_controllers, settings, rf):
    """Parallel POSTs are all admitted before any is stored: each must take its place at once
    (a check that reads the count, then counts after storing, lets every one of them through)."""
    from public.views import _admit, _failed

    settings.INTAKE_RATE_LIMIT = 3
    arriving = [rf.post("/c/smart-site/request/", REMOTE_ADDR="192.0.2.9") for _ in range(8)]
    admissions = [_admit(request) for request in arriving]
    assert [admitted for admitted, _ in admissions] == [True] * 3 + [False] * 5
    _failed(arriving[0], admissions[0][1])  # one of the three had errors: its place goes back
    assert _admit(rf.post("/", REMOTE_ADDR="192.0.2.9"))[0] is True
    assert _admit(rf.post("/", REMOTE_ADDR="192.0.2.9"))[0] is False


def test_correcting_a_form_does_not_count_against_the_limit(loaded_controllers, client, settings):
    """Ten tries to get the form right, then it goes through: only stored requests count."""
    settings.INTAKE_RATE_LIMIT = 3
    for _ in range(10):
        assert post_form(client, name="").status_code == 400
    assert post_form(client).status_code == 302


def test_many_failed_attempts_are_limited_separately(loaded_controllers, client, settings):
    settings.INTAKE_RATE_LIMIT, settings.INTAKE_FAILED_LIMIT = 3, 5
    for _ in range(5):
        assert post_form(client, name="").status_code == 400
    assert post_form(client).status_code == 429
    assert nothing_stored()


@pytest.mark.parametrize(
    "token",
    ["forged", "eyJyIjoiRFNBUi0yMDI2LTAwMDAwMSJ9:1abcde:forgedsignature", "x" * 500],
)
def test_a_forged_confirmation_token_is_a_clear_page(loaded_controllers, client, token):
    response = client.get(reverse("confirm", args=[token]))
    assert response.status_code == 404
    assert client.post(reverse("confirm", args=[token])).status_code == 404


def test_a_reused_confirmation_link_changes_nothing(cast, submit, client):
    case = submit(cast.a, confirm=False)
    url = reverse("confirm", args=[confirmation_token(case)])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 409
    assert CaseEvent.objects.filter(case=case, action="confirm_email").count() == 1


def test_an_expired_confirmation_link_is_a_clear_page(cast, submit, client):
    with time_machine.travel("2026-03-01 10:00 +0000", tick=False):
        case = submit(cast.a, confirm=False)
        token = confirmation_token(case)
    with time_machine.travel("2026-03-08 10:01 +0000", tick=False):
        response = client.post(reverse("confirm", args=[token]))
    assert response.status_code == 410
    case.refresh_from_db()
    assert case.state == State.UNCONFIRMED


def test_another_request_s_status_link_does_not_open(cast, submit, client):
    mine = submit(cast.a)
    theirs = submit(cast.a, email="someone@example.org")
    assert client.get(status_path(mine)).status_code == 200
    forged = reverse("status", args=[theirs.reference, status_token(mine)])
    assert client.get(forged).status_code == 404
    assert client.post(forged, {"action": "withdraw", "withdraw-confirm": "on"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == State.IN_PROGRESS


def test_an_unconfirmed_request_has_no_status_page_yet(cast, submit, client):
    case = submit(cast.a, confirm=False)
    assert client.get(status_path(case)).status_code == 403


def test_a_forged_action_on_the_status_page_changes_nothing(cast, submit, client):
    case = submit(cast.a)
    path = status_path(case)
    for data in (
        {"action": "answer", "answer-answer": "not asked"},  # no question is pending
        {"action": "complete"},
        {"action": "withdraw"},  # without the confirmation box
        {},
    ):
        response = client.post(path, data)
        assert response.status_code in (302, 400)
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    assert CaseEvent.objects.filter(case=case).count() == 2


def test_a_bad_upload_on_the_status_page_is_refused(cast, submit, client):
    case = submit(cast.b, confirm=False)
    from cases import iddocs

    iddocs.store(case, iddocs.CheckedDocument(b"%PDF-1.4\n%%EOF", "application/pdf"))
    case = perform(case, "confirm_email", actor=Actor.subject())
    case = perform(case, "ask_identity", actor=Actor.officer(cast.officer_b), message="Again")
    bomb = io.BytesIO(bomb_png())
    bomb.name = "id.png"
    client.cookies["django_language"] = "en"
    response = client.post(
        status_path(case), {"action": "submit_identity", "submit_identity-id_document": bomb}
    )
    assert response.status_code == 400 and "The image is too large." in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.AWAITING_IDENTITY
    # The refused upload stored nothing (and asking again deleted the first copy).
    assert case.id_documents.count() == 0


def test_an_officer_cannot_record_an_address_with_control_characters(cast, client):
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("admin:dsar_case_add"),
        {
            "controller": cast.a.pk,
            "right": "access",
            "channel": "post",
            "received_at": "2026-03-05T10:00",
            "name": "Piet",
            "email": '"\x01piet"@example.org',
            "language": "nl",
        },
    )
    assert response.status_code == 400 and "control characters" in response.content.decode()
    assert nothing_stored()


def test_mail_to_an_address_with_control_characters_is_never_sent(cast, submit, mailoutbox):
    from cases.mail import deliver

    case = submit(cast.a, confirm=False)
    mail = OutgoingMail.objects.get(case=case)
    OutgoingMail.objects.filter(pk=mail.pk).update(to='"\x01x"@example.org', status="queued")
    sent_before = len(mailoutbox)
    assert deliver(mail.pk) is False
    mail.refresh_from_db()
    assert mail.status == "failed" and "control characters" in mail.last_error
    assert len(mailoutbox) == sent_before


@pytest.mark.parametrize("field", ["name", "details", "email", "right", "csrfmiddlewaretoken"])
def test_a_nul_byte_in_any_field_is_refused_before_the_form_reads_it(
    loaded_controllers, client, field
):
    client.cookies["django_language"] = "en"
    response = post_form(client, **{field: "Jan\x00"})
    assert response.status_code == 400
    assert "characters that are not allowed" in response.content.decode()
    assert nothing_stored()
