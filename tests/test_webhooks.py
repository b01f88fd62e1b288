"""Provider tracking webhooks (anymail): the mail's fate on its row and in the request's record."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse

from cases.audit import verify_chain
from cases.models import CaseEvent, OutgoingMail

pytestmark = pytest.mark.django_db
URL = "/anymail/postmark/tracking/"


@pytest.fixture
def webhook_secret(settings):
    settings.DSAR_MAIL_PROVIDER = "postmark"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret-value", "POSTMARK_SERVER_TOKEN": "x"}


def post(client, payload: dict, auth: str = "hook:s3cret-value"):
    header = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(
        URL, json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=header
    )


def sent_mail(cast, submit) -> OutgoingMail:
    case = submit(cast.a, confirm=False)
    mail = OutgoingMail.objects.get(case=case)
    OutgoingMail.objects.filter(pk=mail.pk).update(provider_message_id="pm-123")
    mail.refresh_from_db()
    return mail


def test_a_delivery_is_recorded_on_the_row_and_in_the_trail(cast, submit, client, webhook_secret):
    mail = sent_mail(cast, submit)
    response = post(
        client,
        {
            "RecordType": "Delivery",
            "MessageID": "pm-123",
            "Recipient": mail.to,
            "DeliveredAt": "2026-03-05T10:00:05Z",
        },
    )
    assert response.status_code == 200
    mail.refresh_from_db()
    assert mail.delivery_status == "delivered"
    event = CaseEvent.objects.filter(case=mail.case).last()
    assert event.action == "mail_delivered" and event.actor_label == "system"
    assert verify_chain(mail.case) is None
    mail.case.refresh_from_db()
    assert mail.case.mail_bounced is False


def test_a_bounce_flags_the_request_once(cast, submit, client, webhook_secret):
    mail = sent_mail(cast, submit)
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "MessageID": "pm-123",
        "ID": 42,
        "Email": mail.to,
        "BouncedAt": "2026-03-05T10:00:05Z",
    }
    assert post(client, bounce).status_code == 200
    assert post(client, bounce).status_code == 200  # the provider retries
    mail.case.refresh_from_db()
    assert mail.case.mail_bounced is True
    assert CaseEvent.objects.filter(case=mail.case, action="mail_bounced").count() == 1
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("admin:dsar_case_changelist") + "?state=all").content.decode()
    assert 'class="dsar-mark dsar-bounced"' in html


def test_a_webhook_without_the_secret_changes_nothing(cast, submit, client, webhook_secret):
    mail = sent_mail(cast, submit)
    payload = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "MessageID": "pm-123",
        "Email": mail.to,
        "BouncedAt": "2026-03-05T10:00:05Z",
    }
    for auth in ("hook:wrong", "nobody:s3cret-value"):
        assert post(client, payload, auth).status_code in (400, 401, 403)
    response = client.post(URL, json.dumps(payload), content_type="application/json")
    assert response.status_code in (400, 401, 403)
    mail.refresh_from_db()
    assert mail.delivery_status == ""
    assert not CaseEvent.objects.filter(action__startswith="mail_").exists()


def test_an_event_for_a_mail_we_never_sent_is_ignored(cast, submit, client, webhook_secret):
    sent_mail(cast, submit)
    response = post(
        client,
        {
            "RecordType": "Delivery",
            "MessageID": "someone-elses",
            "Recipient": "x@example.org",
            "DeliveredAt": "2026-03-05T10:00:05Z",
        },
    )
    assert response.status_code == 200
    assert not CaseEvent.objects.filter(action__startswith="mail_").exists()


# --- The gate in front of anymail (dsar/webhooks.py).

INBOUND = "/anymail/postmark/inbound/"


def postmark_reply(case) -> dict:
    """A Postmark-shaped inbound post: the subject's address, the case's reference."""
    return {
        "FromFull": {"Email": case.email, "Name": "Jan"},
        "ToFull": [{"Email": "info@smart-site.nl", "Name": ""}],
        "Subject": f"Re: {case.reference}",
        "TextBody": "Forged: I withdraw everything.",
        "MessageID": "forged-1",
        "Headers": [{"Name": "Message-ID", "Value": "<forged-1@evil.example>"}],
        "Date": "Thu, 5 Mar 2026 10:00:00 +0100",
    }


def asked(cast, submit):
    from cases.actors import Actor
    from cases.workflow import perform

    case = submit(cast.a)
    return perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="Which?")


def test_without_a_secret_every_webhook_post_is_refused(cast, submit, client, settings):
    settings.DSAR_MAIL_PROVIDER = "postmark"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x"}  # no WEBHOOK_SECRET
    case = asked(cast, submit)
    before = CaseEvent.objects.filter(case=case).count()
    for url in (INBOUND, URL):
        response = client.post(
            url, json.dumps(postmark_reply(case)), content_type="application/json"
        )
        assert response.status_code == 403, url
    case.refresh_from_db()
    assert case.state == "awaiting_subject" and case.paused_since is not None
    assert CaseEvent.objects.filter(case=case).count() == before


def test_a_forged_reply_without_credentials_is_refused_and_a_real_one_lands(
    cast, submit, client, webhook_secret
):
    case = asked(cast, submit)
    payload = json.dumps(postmark_reply(case))
    response = client.post(INBOUND, payload, content_type="application/json")
    assert response.status_code in (400, 401, 403)  # anymail answers 400 to a failed check
    case.refresh_from_db()
    assert case.state == "awaiting_subject"
    header = "Basic " + base64.b64encode(b"hook:s3cret-value").decode()
    response = client.post(
        INBOUND, payload, content_type="application/json", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.state == "in_progress"  # the authenticated reply answered the question


@pytest.mark.parametrize(
    "url",
    [
        "/anymail/mailgun/inbound_mime/",
        "/anymail/mailgun/tracking/",
        "/anymail/sendgrid/inbound/",
        "/anymail/mandrill/",
        "/anymail/postmark/../mailgun/inbound/",
        "/anymail/postmark/nothing/",
        "/anymail/postmark/",
    ],
)
def test_only_the_configured_provider_s_webhooks_exist(client, webhook_secret, url):
    header = "Basic " + base64.b64encode(b"hook:s3cret-value").decode()
    response = client.post(url, "{}", content_type="application/json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 404


def test_without_a_provider_no_webhook_exists(client, settings):
    settings.DSAR_MAIL_PROVIDER = ""
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret-value"}
    assert client.post(INBOUND, "{}", content_type="application/json").status_code == 404
