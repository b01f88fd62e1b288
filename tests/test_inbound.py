"""Mail in: replies land in their case, new messages become requests, each message once."""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from dsar.inbound import ingest
from dsar.models import CaseEvent, Channel, InboundMail, Message, OutgoingMail, Request, State
from dsar.workflow import Actor, perform

pytestmark = pytest.mark.django_db
AMS = ZoneInfo("Europe/Amsterdam")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=AMS)


def eml(
    *,
    sender="jan@example.org",
    to="info@smart-site.nl",
    subject="",
    body="Hello",
    message_id="<m1@example.org>",
    in_reply_to="",
    attachments=(),
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Jan Jansen <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    message.set_content(body)
    for name, content, maintype, subtype in attachments:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def test_a_reply_by_reference_answers_the_question_and_resumes_the_clock(cast, submit, committed):
    cast.officer_a.email = "officer-a@example.org"
    cast.officer_a.save()
    request = submit(cast.a, received_at=at("2026-03-05T10:00"))
    perform(
        request,
        "ask_subject",
        actor=Actor.officer(cast.officer_a),
        message="?",
        now=at("2026-03-10T09:00"),
    )
    raw = eml(subject=f"Re: A message about your request {request.reference}", body="Account 42.")
    record = committed(ingest, raw, received_at=at("2026-03-16T20:00"))
    assert record.outcome == "reply" and record.request == request
    request.refresh_from_db()
    assert request.state == State.IN_PROGRESS and request.paused_days == 6
    assert Message.objects.filter(request=request, body="Account 42.").exists()
    assert OutgoingMail.objects.filter(
        request=request, kind="officer_reply", to="officer-a@example.org"
    ).exists()
    assert committed(ingest, raw) is None  # the same Message-ID again
    assert CaseEvent.objects.filter(request=request, action="answer").count() == 1


def test_a_reply_by_in_reply_to_finds_its_request(cast, submit, committed):
    request = submit(cast.a)
    sent = OutgoingMail.objects.filter(request=request, kind="confirmed").get()
    assert sent.message_id_header
    record = committed(ingest, eml(subject="Re: bedankt", in_reply_to=sent.message_id_header))
    assert record.outcome == "reply"
    assert CaseEvent.objects.filter(request=request, action="mail_reply").count() == 1


def test_a_reference_from_another_address_is_not_attached(cast, submit, committed):
    request = submit(cast.a)
    record = committed(
        ingest, eml(sender="mallory@example.net", subject=f"Re: {request.reference}", body="Forged")
    )
    assert record.outcome == "unmatched"
    assert not Message.objects.filter(request=request, body="Forged").exists()
    event = CaseEvent.objects.filter(request=request).last()
    assert event.action == "mail_unmatched" and event.data["from"] == "mallory@example.net"
    assert "Forged" not in str(event.data) and event.message == ""


def test_an_id_copy_by_mail_goes_to_review_and_a_bad_attachment_is_refused(cast, submit, committed):
    request = submit(cast.b, confirm=False)  # Defero asks an ID copy for access
    from dsar import iddocs

    iddocs.store(request, iddocs.CheckedDocument(PDF, "application/pdf"))
    request = perform(request, "confirm_email", actor=Actor.subject(), has_id_document=True)
    request = perform(request, "ask_identity", actor=Actor.officer(cast.officer_b), message="Again")
    raw = eml(
        to="privacy@defero.nl",
        subject=f"Re: {request.reference}",
        attachments=[
            ("tool.pdf", b"MZ\x90\x00" + b"\x00" * 64, "application", "pdf"),
            ("id.pdf", PDF, "application", "pdf"),
        ],
    )
    committed(ingest, raw, received_at=at("2026-03-16T20:00"))
    request.refresh_from_db()
    assert request.state == State.IDENTITY_REVIEW
    assert request.id_documents.count() == 1
    event = CaseEvent.objects.filter(request=request, action="submit_identity").last()
    names = {a["name"]: a for a in event.data["attachments"]}
    assert "refused" in names["tool.pdf"] and names["id.pdf"]["kept"] == "id_document"


def test_a_new_message_to_a_privacy_address_becomes_a_request_awaiting_confirmation(
    loaded_controllers, committed
):
    raw = eml(
        to="privacy@defero.nl",
        subject="Verzoek",
        body="Graag wil ik dat u mijn gegevens verwijdert.",
        message_id="<new@example.org>",
    )
    with time_machine.travel(at("2026-03-05T10:00"), tick=False):
        record = committed(ingest, raw)
    request = record.request
    assert record.outcome == "new_request"
    assert request.channel == Channel.EMAIL and request.state == State.UNCONFIRMED
    assert request.right == "erasure" and request.controller.slug == "defero"
    assert request.received_at == at("2026-03-05T10:00")
    assert OutgoingMail.objects.filter(
        request=request, kind="confirm", to="jan@example.org"
    ).exists()


def test_a_message_to_no_known_address_is_kept_unrouted(loaded_controllers, committed):
    record = committed(ingest, eml(to="someone@elsewhere.example", message_id="<x@y>"))
    assert record.outcome == "unrouted" and record.request is None
    assert not Request.objects.exists()


def test_ingest_email_command(loaded_controllers, tmp_path):
    path = tmp_path / "in.eml"
    path.write_bytes(eml(to="privacy@defero.nl", message_id="<cmd@example.org>"))
    out = io.StringIO()
    call_command("ingest_email", str(path), stdout=out)
    call_command("ingest_email", str(path), stdout=out)
    assert "new_request DSAR-" in out.getvalue() and "seen before, skipped" in out.getvalue()
    assert InboundMail.objects.count() == 1
    with pytest.raises(CommandError, match="cannot read"):
        call_command("ingest_email", str(tmp_path / "missing.eml"))
    (tmp_path / "empty.eml").write_bytes(b"")
    with pytest.raises(CommandError, match="empty file"):
        call_command("ingest_email", str(tmp_path / "empty.eml"))


def test_anymail_s_inbound_signal_ingests_the_message(loaded_controllers, committed):
    from anymail.inbound import AnymailInboundMessage
    from anymail.signals import AnymailInboundEvent, inbound

    message = AnymailInboundMessage.parse_raw_mime_bytes(
        eml(to="privacy@defero.nl", message_id="<hook@example.org>")
    )
    event = AnymailInboundEvent(event_type="inbound", message=message)
    committed(inbound.send, sender=object, event=event, esp_name="Postmark")
    assert InboundMail.objects.get().outcome == "new_request"
