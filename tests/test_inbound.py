"""Mail in: replies land in their case, new messages become requests, each message once."""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from cases.actors import Actor
from cases.models import Case, CaseEvent, Channel, InboundMail, Message, OutgoingMail, State
from cases.workflow import perform
from mailin.ingest import ingest

from .pdfs import MINIMAL_PDF

pytestmark = pytest.mark.django_db
AMS = ZoneInfo("Europe/Amsterdam")
PDF = MINIMAL_PDF


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
    message["From"] = sender if "<" in sender or " " in sender else f"Jan Jansen <{sender}>"
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
    case = submit(cast.a, received_at=at("2026-03-05T10:00"))
    perform(
        case,
        "ask_subject",
        actor=Actor.officer(cast.officer_a),
        message="?",
        now=at("2026-03-10T09:00"),
    )
    raw = eml(subject=f"Re: A message about your request {case.reference}", body="Account 42.")
    record = committed(ingest, raw, received_at=at("2026-03-16T20:00"))
    assert record.outcome == "reply" and record.case == case
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS and case.paused_days == 6
    assert Message.objects.filter(case=case, body="Account 42.").exists()
    assert OutgoingMail.objects.filter(
        case=case, kind="officer_notice", to="officer-a@example.org"
    ).exists()
    assert committed(ingest, raw) is None  # the same Message-ID again
    assert CaseEvent.objects.filter(case=case, action="answer").count() == 1


def test_a_reply_by_in_reply_to_finds_its_request(cast, submit, committed):
    case = submit(cast.a)
    sent = OutgoingMail.objects.filter(case=case, kind="confirmed").get()
    assert sent.message_id_header
    record = committed(ingest, eml(subject="Re: bedankt", in_reply_to=sent.message_id_header))
    assert record.outcome == "reply"
    assert CaseEvent.objects.filter(case=case, action="mail_reply").count() == 1


def test_a_reference_from_another_address_is_not_attached(cast, submit, committed):
    case = submit(cast.a)
    record = committed(
        ingest, eml(sender="mallory@example.net", subject=f"Re: {case.reference}", body="Forged")
    )
    assert record.outcome == "unmatched"
    assert not Message.objects.filter(case=case, body="Forged").exists()
    event = CaseEvent.objects.filter(case=case).last()
    assert event.action == "mail_unmatched" and event.data["from"] == "mallory@example.net"
    assert "Forged" not in str(event.data) and event.message == ""


def test_an_id_copy_by_mail_goes_to_review_and_a_bad_attachment_is_refused(cast, submit, committed):
    case = submit(cast.b, confirm=False)  # Defero asks an ID copy for access
    from cases import iddocs

    iddocs.store(case, iddocs.CheckedDocument(PDF, "application/pdf"))
    case = perform(case, "confirm_email", actor=Actor.subject())
    case = perform(case, "ask_identity", actor=Actor.officer(cast.officer_b), message="Again")
    raw = eml(
        to="privacy@defero.nl",
        subject=f"Re: {case.reference}",
        attachments=[
            ("tool.pdf", b"MZ\x90\x00" + b"\x00" * 64, "application", "pdf"),
            ("id.pdf", PDF, "application", "pdf"),
        ],
    )
    committed(ingest, raw, received_at=at("2026-03-16T20:00"))
    case.refresh_from_db()
    assert case.state == State.IDENTITY_REVIEW
    assert case.id_documents.count() == 1
    event = CaseEvent.objects.filter(case=case, action="submit_identity").last()
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
    case = record.case
    assert record.outcome == "new_request"
    assert case.channel == Channel.EMAIL and case.state == State.UNCONFIRMED
    assert case.right == "erasure" and case.controller.slug == "defero"
    assert case.received_at == at("2026-03-05T10:00")
    assert OutgoingMail.objects.filter(case=case, kind="confirm", to="jan@example.org").exists()


def test_a_message_to_no_known_address_is_kept_unrouted(loaded_controllers, committed):
    record = committed(ingest, eml(to="someone@elsewhere.example", message_id="<x@y>"))
    assert record.outcome == "unrouted" and record.case is None
    assert not Case.objects.exists()


def test_ingest_email_command(loaded_controllers, tmp_path):
    path = tmp_path / "in.eml"
    path.write_bytes(eml(to="privacy@defero.nl", message_id="<cmd@example.org>"))
    out = io.StringIO()
    call_command("ingest_email", str(path), stdout=out)
    call_command("ingest_email", str(path), stdout=out)
    assert "new_request DSAR-" in out.getvalue() and "seen before, skipped" in out.getvalue()
    assert InboundMail.objects.count() == 1
    (tmp_path / "empty.eml").write_bytes(b"")
    good = tmp_path / "good.eml"
    good.write_bytes(eml(to="privacy@defero.nl", message_id="<after@example.org>"))
    err, out = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="2 of 3 file"):
        call_command(
            "ingest_email",
            str(tmp_path / "missing.eml"),
            str(tmp_path / "empty.eml"),
            str(good),
            stdout=out,
            stderr=err,
        )
    assert "missing.eml: cannot read" in err.getvalue()
    assert "empty.eml: empty file" in err.getvalue()
    assert "good.eml: new_request" in out.getvalue()  # the bad files did not stop it


def test_anymail_s_inbound_signal_ingests_the_message(loaded_controllers, committed):
    from anymail.inbound import AnymailInboundMessage
    from anymail.signals import AnymailInboundEvent, inbound

    message = AnymailInboundMessage.parse_raw_mime_bytes(
        eml(to="privacy@defero.nl", message_id="<hook@example.org>")
    )
    event = AnymailInboundEvent(event_type="inbound", message=message)
    committed(inbound.send, sender=object, event=event, esp_name="Postmark")
    assert InboundMail.objects.get().outcome == "new_request"
