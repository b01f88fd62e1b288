"""Mail in: replies land in their case, new messages become requests, nothing is processed twice.

Both entry points call ``ingest``: anymail's inbound webhook (``on_inbound``) and
``manage.py ingest_email FILE.eml`` for mail fetched elsewhere. The raw message is stored first;
its Message-ID (or, without one, a digest of its bytes) is unique, so a message delivered again
changes nothing.

- A reply (a reference in the subject, or In-Reply-To/References naming one of our messages) from
  the case's own address is attached as a message from the subject. If the case was waiting
  for the subject, the clock resumes at the reply's arrival: the information was received,
  whatever the officer later thinks of it. Attachments are content-checked; while identity is
  awaited, a valid one is kept as the ID document, otherwise only its name and type are recorded.
- "The case's own address" is the one address of the From header, parsed by RFC 5322, compared
  whole. A header with two addresses, a parse defect, or a display name naming another address
  is from someone else: a forged From must not pass as the subject.
- A reference from another address is not attached (a From can be forged): it is kept as
  ``unmatched`` for the officers, never shown to the subject.
- A new message to a controller's privacy address becomes a case with channel email, received
  at its arrival, awaiting confirmation: the confirmation link goes to the From address. Without
  a usable From address it is ``rejected``: there is nobody to confirm it.
- Hostile or broken mail (unknown charsets, nested attachments, NUL bytes, a header that does not
  parse) is read as far as it can be; anything that still fails is stored as ``failed`` with the
  reason, so every message is processed or rejected on its own, clearly, and at most once.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import logging
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import iddocs
from cases.actors import Actor
from cases.audit import note
from cases.intake import receive_case
from cases.mail import queue_mail
from cases.models import (
    REFERENCE,
    Case,
    Direction,
    InboundMail,
    Message,
    OutgoingMail,
    State,
)
from cases.workflow import perform
from controllers.access import reminder_addresses
from controllers.models import Controller, Right
from controllers.registry import controllers

log = logging.getLogger(__name__)

# A new case's right, guessed from the words it uses (Dutch and English); access otherwise.
# The officer sees the whole text and can refuse or answer what was really asked.
RIGHT_WORDS = [
    (Right.ERASURE, ("verwijder", "wissen", "delete", "erase", "vergeten")),
    (Right.RECTIFICATION, ("corrigeer", "rectific", "wijzig", "correct")),
    (Right.OBJECTION, ("bezwaar", "object")),
    (Right.PORTABILITY, ("overdraag", "portab")),
    (Right.RESTRICTION, ("beperk", "restrict")),
    (Right.WITHDRAW_CONSENT, ("toestemming in", "withdraw consent", "intrekken")),
]
MAX_BODY = 10000
# Control characters other than tab and line ends: PostgreSQL refuses NUL in text, and none of
# them belongs in a name, a subject or a message an officer reads.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    return _CONTROL.sub("", text)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def header(message: EmailMessage, name: str) -> str:
    """A header's decoded value, or its raw text when it does not parse (a hostile header must
    not stop the message); one line, without control characters."""
    try:
        value = str(message.get(name, "") or "")
    except Exception:  # the header registry raises on some malformed values
        raw = [v for k, v in message.raw_items() if k.lower() == name.lower()]
        value = str(raw[0]) if raw else ""
    return " ".join(clean(value).split())


def _from_address(message: EmailMessage) -> Address | None:
    """The From header's one address, or None when there is not exactly one From header with
    exactly one address that parses without a defect.

    A header in raw UTF-8 (RFC 6532: "From: Zoë Müller <zoe@example.org>", as many mail
    programs write it) reaches the parser as undecodable bytes, a defect that would make every
    subject with an accent in their name a stranger: it is decoded first (as Latin-1 where it
    is not UTF-8), then parsed. A non-ASCII address stays a defect."""
    values = [str(value) for name, value in message.raw_items() if name.lower() == "from"]
    if len(values) != 1:
        return None
    text = values[0]
    try:
        if any("\udc80" <= char <= "\udcff" for char in text):
            raw = text.encode("ascii", "surrogateescape")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")  # older programs; only the name can be non-ASCII
        parsed = email.policy.default.header_factory("From", "".join(text.splitlines()))
        if parsed.defects or len(parsed.addresses) != 1:
            return None
        return parsed.addresses[0]
    except Exception:  # the header registry raises on some malformed values: ambiguous
        return None


def sender_address(message: EmailMessage) -> str:
    """The From header's one well-formed address, lowercased; "" when there is none, several,
    or anything ambiguous (a parse defect, a display name that names another address)."""
    address = _from_address(message)
    if address is None:
        return ""
    spec = address.addr_spec
    name = address.display_name or ""
    if _CONTROL.search(spec) or ("@" in name and name.strip().lower() != spec.lower()):
        return ""
    try:
        validate_email(spec)
    except ValidationError:
        return ""
    return spec.lower()


def sender_name(message: EmailMessage) -> str:
    address = _from_address(message)
    return clean(address.display_name)[:200] if address is not None else ""


def _text(part: EmailMessage) -> str:
    """A text part's content; an unknown or broken charset is read as UTF-8 with replacements."""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, KeyError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return clean(content if isinstance(content, str) else "")


def _body(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    return (_text(part) if part is not None else "").strip()[:MAX_BODY]


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID, or a digest of the bytes: the same file is the same message, in any
    process (Python's hash() differs from one process to the next)."""
    found = header(message, "Message-ID")
    return found[:250] if found else f"<sha256-{hashlib.sha256(raw).hexdigest()}@dsar>"


def _find_reply_target(message: EmailMessage) -> Case | None:
    match = REFERENCE.search(header(message, "Subject"))
    if match:
        return Case.objects.filter(reference=match.group(0)).first()
    ids = re.findall(
        r"<[^<>\s]{1,240}>", f"{header(message, 'In-Reply-To')} {header(message, 'References')}"
    )
    if ids:
        mail = OutgoingMail.objects.filter(message_id_header__in=ids, case__isnull=False).first()
        return mail.case if mail else None
    return None


def _guess_right(controller: Controller, text: str) -> str:
    # Every right may be asked of every controller, on the law's terms where it is silent.
    lowered = text.lower()
    for right, words in RIGHT_WORDS:
        if any(word in lowered for word in words):
            return right
    return Right.ACCESS


def ingest(raw: bytes, *, received_at: dt.datetime | None = None) -> InboundMail | None:
    """Process one message. Returns its record, or None if it was seen before."""
    received_at = received_at or timezone.now()
    message = parse(raw)
    message_id = _message_id(message, raw)
    sender = sender_address(message)
    subject = header(message, "Subject")[:500]
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = InboundMail.objects.create(
                    message_id=message_id,
                    received_at=received_at,
                    sender=sender[:254],
                    subject=subject,
                    raw=raw,
                    outcome="processing",
                )
        except IntegrityError:
            return None  # the same Message-ID again: processed already
        addressed = _addressed_controller(message)
        try:
            with transaction.atomic():
                record.outcome, record.case, record.problem = _route(
                    message, sender, subject, received_at, addressed
                )
        except Exception as error:  # a fault of ours must not lose the message
            log.exception("inbound mail %s could not be processed", message_id)
            record.outcome, record.case = "failed", None
            record.problem = f"{type(error).__name__}: {error}"[:1000]
        # Whose officers see it: the case's controller, else the one whose address it reached.
        record.controller = record.case.controller if record.case else addressed
        if record.outcome in ("rejected", "unrouted"):
            log.warning("inbound mail %s %s: %s", message_id, record.outcome, record.problem or "-")
        record.save(update_fields=["outcome", "case", "problem", "controller"])
    return record


def _addressed_controller(message: EmailMessage) -> Controller | None:
    """The controller one of whose privacy addresses is among the To and Cc addresses."""
    try:
        fields = [*message.get_all("To", []), *message.get_all("Cc", [])]
        recipients = {addr.lower() for _, addr in getaddresses([str(f) for f in fields])}
    except Exception:
        return None
    for controller in controllers():
        if recipients & {addr.lower() for addr in controller.privacy_emails}:
            return controller
    return None


def _route(
    message: EmailMessage,
    sender: str,
    subject: str,
    received_at: dt.datetime,
    addressed: Controller | None,
) -> tuple[str, Case | None, str]:
    """(outcome, case, problem): reply, unmatched, new_request, rejected or unrouted."""
    case = _find_reply_target(message)
    if case is not None:
        if not sender or sender != case.email.lower():
            # Told to the officers as a fact, without the (possibly forged) text.
            note(
                case,
                actor=Actor.system(),
                action="mail_unmatched",
                at=received_at,
                data={"from": sender or header(message, "From")[:254], "subject": subject},
            )
            return "unmatched", case, ""
        _attach_reply(case, message, received_at)
        return "reply", case, ""
    if addressed is not None:
        if not sender:
            return "rejected", None, "no single, well-formed sender address to confirm with"
        body = _body(message)
        case = receive_case(
            controller=addressed,
            right=_guess_right(addressed, f"{subject}\n{body}"),
            name=sender_name(message) or sender,
            email=sender,
            language="nl",
            details=f"{subject}\n\n{body}".strip()[:5000],
            channel="email",
            received_at=received_at,
        )
        return "new_request", case, ""
    return "unrouted", None, ""


def _attach_reply(case: Case, message: EmailMessage, received_at: dt.datetime) -> None:
    body = _body(message) or "(no text)"
    attachments = []
    document = None  # the ID copy this reply brings, while identity is awaited
    for part in message.iter_attachments():
        try:
            name = clean(part.get_filename() or "attachment")[:100]
        except Exception:
            name = "attachment"
        if part.is_multipart():  # a message or alternative inside: not a document
            attachments.append({"name": name, "type": part.get_content_type(), "kept": False})
            continue
        payload = part.get_payload(decode=True)  # the bytes, whatever the declared charset
        try:
            checked = iddocs.check_document(payload if isinstance(payload, bytes) else b"")
        except ValidationError as error:
            attachments.append({"name": name, "refused": str(error.messages[0])})
            continue
        if case.state == State.AWAITING_IDENTITY and document is None:
            document = checked
            attachments.append({"name": name, "kept": "id_document"})
        else:
            attachments.append({"name": name, "type": checked.content_type, "kept": False})
    # The subject's step this reply takes: an answer, or the awaited ID copy. A reply that
    # brings no copy while one is awaited takes no step: the clock runs on.
    step = "answer" if case.state == State.AWAITING_SUBJECT else None
    if case.state == State.AWAITING_IDENTITY and document is not None:
        step = "submit_identity"
    if step:
        perform(
            case,
            step,
            actor=Actor.subject(),
            message=body,
            now=received_at,
            id_document=document,
            record={"channel": "email", "attachments": attachments},
        )
    else:
        with transaction.atomic():
            Message.objects.create(
                case=case, direction=Direction.FROM_SUBJECT, body=body, created_at=received_at
            )
            note(
                case,
                actor=Actor.subject(),
                action="mail_reply",
                at=received_at,
                message=body,
                data={"attachments": attachments},
            )
            # A step tells the officers itself (cases.steps, officer_notice); a reply that
            # takes none is told here.
            for address in reminder_addresses(case.controller, assignee=case.assigned_to):
                queue_mail(case, "officer_reply", to=address)


def on_inbound(sender: object, event: object, esp_name: str, **kwargs: object) -> None:
    """anymail's inbound signal (connected in mailin.apps): a thin adapter to ``ingest``."""
    message = getattr(event, "message", None)
    if message is not None:
        ingest(message.as_bytes())
