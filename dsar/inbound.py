"""Mail in: replies land in their case, new messages become requests, nothing is processed twice.

Both entry points call ``ingest``: anymail's inbound webhook (dsar/apps.py) and
``manage.py ingest_email FILE.eml`` for mail fetched elsewhere. The raw message is stored first;
its Message-ID is unique, so a redelivered message changes nothing.

- A reply (a reference in the subject, or In-Reply-To/References naming one of our messages) from
  the request's own address is attached as a message from the subject. If the request was waiting
  for the subject, the clock resumes at the reply's arrival: the information was received,
  whatever the officer later thinks of it. Attachments are content-checked; while identity is
  awaited, a valid one is kept as the ID document, otherwise only its name and type are recorded.
- A reference from another address is not attached (a From can be forged): it is kept as
  ``unmatched`` for the officers, never shown to the subject.
- A new message to a controller's privacy address becomes a request with channel email, received
  at its arrival, awaiting confirmation: the confirmation link goes to the From address.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controllers.models import Controller, Right

from . import iddocs
from .audit import note
from .intake import receive_request
from .mail import queue_mail
from .models import Direction, InboundMail, Message, OutgoingMail, Request, State
from .reminders import officer_addresses
from .workflow import Actor, perform

REFERENCE = re.compile(r"DSAR-\d{4}-\d{6}")
# A new request's right, guessed from the words it uses (Dutch and English); access otherwise.
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


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if part is not None else ""
    return text.strip()[:MAX_BODY]


def _find_reply_target(message: EmailMessage) -> Request | None:
    match = REFERENCE.search(str(message.get("Subject", "")))
    if match:
        return Request.objects.filter(reference=match.group(0)).first()
    ids = re.findall(
        r"<[^>]+>", f"{message.get('In-Reply-To', '')} {message.get('References', '')}"
    )
    if ids:
        mail = OutgoingMail.objects.filter(message_id_header__in=ids, request__isnull=False).first()
        return mail.request if mail else None
    return None


def _guess_right(controller: Controller, text: str) -> str:
    lowered = text.lower()
    offered = {d.right for d in controller.rights.all() if d.is_offered}
    for right, words in RIGHT_WORDS:
        if right in offered and any(word in lowered for word in words):
            return right
    return Right.ACCESS


def ingest(raw: bytes, *, received_at: dt.datetime | None = None) -> InboundMail | None:
    """Process one message. Returns its record, or None if it was seen before."""
    received_at = received_at or timezone.now()
    message = parse(raw)
    message_id = str(message.get("Message-ID", "")).strip() or f"<no-id-{hash(raw)}@dsar>"
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    subject = " ".join(str(message.get("Subject", "")).split())[:500]
    try:
        with transaction.atomic():
            record = InboundMail.objects.create(
                message_id=message_id[:250],
                received_at=received_at,
                sender=sender[:254],
                subject=subject,
                raw=raw,
                outcome="processing",
            )
            record.outcome, record.request = _route(message, sender, subject, received_at)
            record.save(update_fields=["outcome", "request"])
    except IntegrityError:
        return None  # the same Message-ID again: processed already
    return record


def _route(
    message: EmailMessage, sender: str, subject: str, received_at: dt.datetime
) -> tuple[str, Request | None]:
    target = _find_reply_target(message)
    if target is not None:
        if sender != target.email.lower():
            # Told to the officers as a fact, without the (possibly forged) text.
            note(
                target,
                actor=Actor.system(),
                action="mail_unmatched",
                at=received_at,
                data={"from": sender, "subject": subject},
            )
            return "unmatched", target
        _attach_reply(target, message, received_at)
        return "reply", target
    headers = [str(h) for h in [*message.get_all("To", []), *message.get_all("Cc", [])]]
    recipients = {addr.lower() for _, addr in getaddresses(headers)}
    for controller in Controller.objects.prefetch_related("rights"):
        if recipients & {addr.lower() for addr in controller.privacy_emails}:
            body = _body(message)
            request = receive_request(
                controller=controller,
                right=_guess_right(controller, f"{subject}\n{body}"),
                name=parseaddr(str(message.get("From", "")))[0][:200] or sender,
                email=sender,
                language="nl",
                details=f"{subject}\n\n{body}".strip()[:5000],
                channel="email",
                received_at=received_at,
            )
            return "new_request", request
    return "unrouted", None


def _attach_reply(request: Request, message: EmailMessage, received_at: dt.datetime) -> None:
    body = _body(message) or "(no text)"
    attachments = []
    kept = None
    for part in message.iter_attachments():
        name = (part.get_filename() or "attachment")[:100]
        content = part.get_content()
        try:
            checked = iddocs.check_document(
                content if isinstance(content, bytes) else str(content).encode()
            )
        except ValidationError as error:
            attachments.append({"name": name, "refused": error.messages[0]})
            continue
        if request.state == State.AWAITING_IDENTITY and kept is None:
            kept = iddocs.store(request, checked)
            attachments.append({"name": name, "kept": "id_document"})
        else:
            attachments.append({"name": name, "type": checked.content_type, "kept": False})
    step = {State.AWAITING_SUBJECT: "answer", State.AWAITING_IDENTITY: "submit_identity"}.get(
        request.state
    )
    if step == "submit_identity" and kept is None:
        step = None  # an identity is awaited and this reply brings none: the clock runs on
    if step:
        perform(
            request,
            step,
            actor=Actor.subject(),
            message=body,
            now=received_at,
            record={"channel": "email", "attachments": attachments},
        )
    else:
        with transaction.atomic():
            Message.objects.create(
                request=request, direction=Direction.FROM_SUBJECT, body=body, created_at=received_at
            )
            note(
                request,
                actor=Actor.subject(),
                action="mail_reply",
                at=received_at,
                message=body,
                data={"attachments": attachments},
            )
    for address in officer_addresses(request, "reply"):
        queue_mail(request, "officer_reply", to=address)
