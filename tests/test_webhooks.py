"""Provider tracking webhooks (anymail): the mail's fate on its row and in the request's record."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse

from dsar.audit import verify_chain
from dsar.models import CaseEvent, OutgoingMail

pytestmark = pytest.mark.django_db
URL = "/anymail/postmark/tracking/"


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret-value", "POSTMARK_SERVER_TOKEN": "x"}


def post(client, payload: dict, auth: str = "hook:s3cret-value"):
    header = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(
        URL, json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=header
    )


def sent_mail(cast, submit) -> OutgoingMail:
    request = submit(cast.a, confirm=False)
    mail = OutgoingMail.objects.get(request=request)
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
    event = CaseEvent.objects.filter(request=mail.request).last()
    assert event.action == "mail_delivered" and event.actor_label == "system"
    assert verify_chain(mail.request) is None
    mail.request.refresh_from_db()
    assert mail.request.mail_bounced is False


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
    mail.request.refresh_from_db()
    assert mail.request.mail_bounced is True
    assert CaseEvent.objects.filter(request=mail.request, action="mail_bounced").count() == 1
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("admin:dsar_request_changelist") + "?state=all").content.decode()
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
