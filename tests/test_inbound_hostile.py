"""Hostile and broken mail: forged senders, unknown charsets, nested parts, NUL bytes, missing
headers. Each message is processed or refused on its own, clearly, and at most once."""

from __future__ import annotations

import pytest

from cases.actors import Actor
from cases.models import Case, CaseEvent, InboundMail, OutgoingMail, State
from cases.workflow import perform
from mailin import ingest as ingest_module
from mailin.ingest import ingest

pytestmark = pytest.mark.django_db


def raw(headers: str, body: str = "Hello", *, content_type: str = "text/plain") -> bytes:
    return (f"{headers}\nContent-Type: {content_type}\n\n{body}\n").encode(
        "utf-8", "surrogateescape"
    )


def waiting(cast, submit) -> Case:
    case = submit(cast.a, email="victim@example.org")
    return perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="Which?")


@pytest.mark.parametrize(
    "sender",
    [
        "victim@example.org <attacker@evil.example>",
        "victim)<attacker@evil.example>",
        "<victim>@evil.example",
        '"victim@example.org" <attacker@evil.example>',
        "victim@example.org, attacker@evil.example",
        "Victim <victim@example.org>, <attacker@evil.example>",
        '"\x01"victim@example.org',  # a real control character, in a quoted local part
        "victim@example.org\x01",
        "vict\udceem@example.org",  # a non-ASCII address (raw Latin-1 byte) is not the subject's
        "",
    ],
)
def test_a_from_header_that_is_not_exactly_the_subject_s_address_is_someone_else(
    cast, submit, committed, sender
):
    case = waiting(cast, submit)
    message = raw(
        f"From: {sender}\nTo: info@smart-site.nl\nSubject: Re: {case.reference}\n"
        f"Message-ID: <forged@evil.example>",
        "I withdraw.",
    )
    record = committed(ingest, message)
    assert record.outcome == "unmatched"
    case.refresh_from_db()
    assert (
        case.state == State.AWAITING_SUBJECT
        and not case.messages.filter(direction="from_subject").exists()
    )


@pytest.mark.parametrize(
    "sender",
    [
        "victim@example.org",
        "Victim <victim@example.org>",
        '"Victim, V." <VICTIM@example.org>',
        '"victim@example.org" <victim@example.org>',
        "=?utf-8?q?V=C3=ADctim?= <victim@example.org>",
        "Zoë Müller <victim@example.org>",  # raw UTF-8 (RFC 6532), as many programs write it
        '"Zoë" <victim@example.org>',
        "Zo\udceb <victim@example.org>",  # a raw Latin-1 byte in the name: older programs
    ],
)
def test_the_subject_s_own_address_in_any_usual_form_is_the_subject(
    cast, submit, committed, sender
):
    case = waiting(cast, submit)
    message = raw(
        f"From: {sender}\nTo: info@smart-site.nl\nSubject: Re: {case.reference}\n"
        f"Message-ID: <real@example.org>",
        "The one ending in 42.",
    )
    assert committed(ingest, message).outcome == "reply"
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS


def test_unknown_charsets_nested_parts_and_nul_bytes_are_read_not_crashed_on(
    loaded_controllers, committed
):
    message = (
        b"From: Jan <jan@example.org>\nTo: privacy@defero.nl\n"
        b"Subject: Inzage =?x-nope?q?a?=\x00\n"
        b"Message-ID: <hostile@example.org>\n"
        b'Content-Type: multipart/mixed; boundary="X"\n\n'
        b"--X\nContent-Type: text/plain; charset=x-unknown\n\nGraag inzage\x00 in mijn gegevens.\n"
        b'--X\nContent-Type: multipart/alternative; boundary="Y"\n'
        b'Content-Disposition: attachment; filename="nested"\n\n'
        b"--Y\nContent-Type: text/plain\n\nalt\n--Y--\n"
        b"--X\nContent-Type: text/plain; charset=x-unknown\n"
        b'Content-Disposition: attachment; filename="a\x00.txt"\n\nabc\n'
        b"--X--\n"
    )
    record = committed(ingest, message)
    assert record.outcome == "new_request", record.problem
    case = record.case
    assert "\x00" not in case.details + case.name + record.subject
    assert "Graag inzage in mijn gegevens." in case.details


def test_a_reply_with_a_nested_or_undecodable_attachment_is_kept_as_a_reply(
    cast, submit, committed
):
    case = waiting(cast, submit)
    message = (
        f"From: victim@example.org\nTo: info@smart-site.nl\nSubject: Re: {case.reference}\n"
        "Message-ID: <nested@example.org>\n"
        'Content-Type: multipart/mixed; boundary="X"\n\n'
        "--X\nContent-Type: text/plain\n\nSee attached.\n"
        '--X\nContent-Type: multipart/alternative; boundary="Y"\n'
        'Content-Disposition: attachment; filename="nested"\n\n'
        "--Y\nContent-Type: text/plain\n\nalt\n--Y--\n--X--\n"
    ).encode()
    assert committed(ingest, message).outcome == "reply"
    event = CaseEvent.objects.filter(case=case).last()
    assert event.data["attachments"] == [
        {"name": "nested", "type": "multipart/alternative", "kept": False}
    ]


def test_without_a_message_id_the_same_file_is_still_processed_once(loaded_controllers, committed):
    message = raw("From: jan@example.org\nTo: privacy@defero.nl\nSubject: Inzage")
    first = committed(ingest, message)
    assert first.outcome == "new_request"
    assert committed(ingest, message) is None
    assert Case.objects.filter(email="jan@example.org").count() == 1
    assert first.message_id.startswith("<sha256-")


@pytest.mark.parametrize("sender", ["", "From: \n", "From: not an address\n"])
def test_a_new_message_without_a_usable_sender_is_rejected_and_mails_nobody(
    loaded_controllers, committed, sender
):
    message = raw(f"{sender}To: privacy@defero.nl\nSubject: Inzage\nMessage-ID: <nf@x>".strip())
    record = committed(ingest, message)
    assert record.outcome == "rejected" and "sender" in record.problem
    assert not Case.objects.exists() and not OutgoingMail.objects.exists()


def test_a_fault_of_ours_keeps_the_message_as_failed_and_the_next_one_goes_on(
    cast, submit, committed, monkeypatch
):
    case = waiting(cast, submit)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ingest_module, "_attach_reply", broken)
    reply = raw(f"From: victim@example.org\nSubject: Re: {case.reference}\nMessage-ID: <b@x>")
    record = committed(ingest, reply)
    assert record.outcome == "failed" and "RuntimeError: a bug" in record.problem
    assert InboundMail.objects.get(message_id="<b@x>").raw == reply  # nothing lost
    monkeypatch.undo()
    other = raw("From: jan@example.org\nTo: privacy@defero.nl\nSubject: Inzage\nMessage-ID: <n@x>")
    assert committed(ingest, other).outcome == "new_request"


def test_a_new_request_by_mail_keeps_a_name_written_in_raw_utf8(loaded_controllers, committed):
    message = raw(
        "From: Zoë Müller <zoe@example.org>\nTo: info@smart-site.nl\n"
        "Subject: Inzage\nMessage-ID: <zoe-1@example.org>",
        "Ik wil inzage in mijn gegevens.",
    )
    record = committed(ingest, message)
    assert record.outcome == "new_request", record.problem
    assert (record.case.name, record.case.email) == ("Zoë Müller", "zoe@example.org")
