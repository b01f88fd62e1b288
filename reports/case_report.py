"""The auditor's case report: one request as a PDF that can be filed as evidence.

It shows, in Dutch or English (the auditor's choice): the cover (reference, controller, the
statement's date and the hash of the policy the request was received under, right, channel,
received, outcome, who handled it); every deadline the legal clock computed, and whether it was
met and by how much (hours and working days); the identity check (the method the controller's
rule asked, what was asked, who decided, and that the ID copy was destroyed, never the copy);
the timeline, event by event, with every text sent to the subject in full and every mail's
delivery status; what the rooms above the core add (fulfilment: systems searched, package,
changes and their verification, Art. 19 notices); and the integrity of the hash chain verified
at render time, with its head.

The PDF is PDF/A-3b and carries the case's events as ``events.json`` and, when the registry
kept it, the policy file the request was received under as ``policy.toml``: with the audit key,
the chain can be verified from the PDF alone, and the policy file against the hash the chain
recorded (``manage.py verify_report``). It is reproducible: its identifier and dates come from
the case (the receipt and the last event), never from the clock, so the same case renders to
the same bytes and a report can be hashed and compared later.
Subject-provided text reaches the template only as variables (escaped), and WeasyPrint fetches
nothing but the project's static files (``cases.pdf``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dates import MONTHS
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from cases import events as event_types
from cases.audit import head_hash
from cases.extensions import report_sections
from cases.mail import as_recorded
from cases.models import Case, CaseEvent, State
from cases.pdf import heap_frozen, render_pdf
from cases.selectors import chain_state, timeline
from controllers.models import PolicyVersion, Verification
from controllers.policy import dump_policy, policy_sha256
from legalclock.workdays import working_days_between

LANGUAGES = ("en", "nl")
ATTACHMENT = "events.json"
# The policy file the request was received under, when the registry kept it.
POLICY_ATTACHMENT = "policy.toml"
# Where the report may be cut into parts (between sections, events and mails; see ``parts``).
PART = "<!--dsar:part-->"
# Characters of HTML a part holds at most, where it can be cut. WeasyPrint keeps a whole
# document's tree and styles until it is laid out: one document of 2,000 events peaks at about
# 500 MB, parts of this size keep a report of any length near 300 (bench/report). A report of
# a few hundred events stays one document.
PART_SIZE = 400_000


# How a deadline stands (``DeadlineRow.status``).
MET, MISSED = "met", "missed"  # kept, or not, by what was sent to the subject (by when)
UNSENT = "unsent"  # decided, not yet sent: missed once past the date (``met`` False)
OPEN = "open"  # the request is still open: missed once past the date (``met`` False)
NOT_NEEDED = "not_needed"  # a notice not needed: the decision was sent within the first month
NOT_JUDGED = "not_judged"  # withdrawn or expired: no decision to judge


@dataclass(frozen=True)
class DeadlineRow:
    label: str
    at: dt.datetime | None
    met: bool | None  # None: not yet due (open or unsent), not needed, or not judged
    hours: int  # early (positive) or late (negative), to the hour
    working_days: int
    # When what keeps the deadline was sent to the subject (the mail's sent time), if it was.
    by: dt.datetime | None = None
    status: str = MET

    @property
    def margin_hours(self) -> int:
        return abs(self.hours)

    @property
    def margin_days(self) -> int:
        return abs(self.working_days)

    @property
    def unsent(self) -> bool:
        return self.status == UNSENT

    @property
    def verdict(self) -> str:
        """The row's judgement, as the auditor reads it (the active language)."""
        margin = {"days": self.margin_days, "hours": self.margin_hours}
        if self.status == UNSENT:
            if self.met is False:
                return _(
                    "MISSED: decided, but NOT YET COMMUNICATED to the subject (its mail has not "
                    "been sent, or did not arrive)"
                )
            return _(
                "decided, but not yet communicated to the subject (its mail has not been sent, "
                "or did not arrive)"
            )
        if self.status == OPEN:
            if self.met is False:
                return _("MISSED: the request is still open past this date")
            return _("not yet due: the request is open")
        if self.status == NOT_NEEDED:
            return _("not needed: the decision was sent within the first month")
        if self.status == NOT_JUDGED:
            return _("not judged: the request was withdrawn or expired")
        if self.met:
            return _("met: %(days)s working days, %(hours)s h early") % margin
        return _("MISSED by %(days)s working days, %(hours)s h") % margin

    @property
    def css(self) -> str:
        return "met" if self.met else "missed" if self.met is False else "open"


def _deadline(
    label: str,
    at: dt.datetime | None,
    done: dt.datetime | None,
    case: Case,
    *,
    pending: str = "",
    as_of: dt.datetime,
) -> Any:
    """One row: kept by ``done`` (what was sent, when), or ``pending`` (UNSENT, OPEN: missed
    once ``as_of`` is past the date; NOT_NEEDED, NOT_JUDGED)."""
    if at is None:
        return None
    if done is None:
        late = pending in (UNSENT, OPEN) and as_of > at
        return DeadlineRow(label, at, False if late else None, 0, 0, None, pending or NOT_JUDGED)
    controller = case.controller
    days = working_days_between(
        done,
        at,
        country=controller.country,
        tz=controller.time_zone,
        extra_holidays=controller.holiday_dates,
    )
    seconds = (at - done).total_seconds()
    # Whole hours of the margin, toward zero (a minute late is 0 h late, not 1).
    hours = int(abs(seconds) // 3600) * (1 if seconds >= 0 else -1)
    return DeadlineRow(label, at, done <= at, hours, days, done, MET if done <= at else MISSED)


def as_of(case: Case, events: list[CaseEvent] | None = None) -> dt.datetime:
    """The moment the report judges what is not kept yet: now, while a deadline still runs (the
    request is open, or its decision has not been sent: the report says so, and changes when
    a deadline passes); else the case's last event, so that the report of a finished case is
    the same whenever it is rendered."""
    if case.is_open or case.decision_unsent:
        return timezone.now()
    if events:
        return events[-1].at
    last = case.events.order_by("-seq").values_list("at", flat=True).first()
    return last or case.received_at


def deadlines(case: Case, moment: dt.datetime | None = None) -> list[DeadlineRow]:
    """Each deadline of the case and how it was kept: by when the decision was sent to the
    subject (the sent time of the mail that carries it, ``Case.decision_sent_at``), never by
    the officer's click. A decision whose mail has not left, or bounced, keeps nothing: "not
    yet communicated", missed once ``moment`` (default ``as_of``) is past the deadline; so is an
    open request's. The notice-by date is kept by the first extension notice or refusal sent to
    the subject; it was not needed if the decision itself was sent within the first month, and
    missed if it came later with no notice before. Withdrawn and expired requests are not
    judged."""
    moment = moment or as_of(case)
    decided = case.is_decided
    done = case.decision_sent_at if decided else None
    pending = UNSENT if case.decision_unsent else OPEN if case.is_open else ""

    def row(label: str, at: dt.datetime | None, kept: dt.datetime | None, waiting: str) -> Any:
        return _deadline(label, at, kept, case, pending=waiting, as_of=moment)

    rows = [
        row(_("Declared promise"), case.declared_deadline, done, pending),
        row(_("Statutory (one month)"), case.statutory_deadline, done, pending),
    ]
    if case.extended_at:
        rows.append(row(_("Extended (Art. 12(3))"), case.extended_deadline, done, pending))
    refused = case.state == State.REFUSED
    refusal_sent = case.decision_sent_at if refused else None
    sent = [when for when in (case.extension_sent_at, refusal_sent) if when]
    notice = min(sent) if sent else None
    notice_pending = pending
    if notice is None and (case.extended_at is not None or refused):
        notice_pending = UNSENT  # an extension or a refusal given, not (yet) sent
    elif notice is None and done is not None:
        if done <= case.notice_by:
            notice_pending = NOT_NEEDED
        else:
            notice = done  # no notice by the date: the answer, when it came, was the first word
    rows.append(row(_("Extension or refusal notice by"), case.notice_by, notice, notice_pending))
    if case.extended_at and refused:
        # Art. 12(4): the reasons for not acting are due within one month of receipt; an
        # extension lengthens the time to act, and whether it also covers a refusal is for the
        # auditor to weigh, so the refusal is judged against the one-month date as well.
        rows.append(
            row(
                _("Refusal within one month (Art. 12(4))"),
                case.notice_by,
                refusal_sent,
                UNSENT if refusal_sent is None else "",
            )
        )
    rows.append(row(_("Effective deadline"), case.effective_deadline, done, pending))
    return [r for r in rows if r is not None]


def _receipt(events: list[CaseEvent]) -> dict[str, Any]:
    """What the request's first event recorded at receipt (channel, whether an ID copy came
    with it, the policy in force), or nothing for a chain without one."""
    received = next((e for e in events if e.action == "receive"), None)
    return received.data if received and isinstance(received.data, dict) else {}


def _identity(case: Case, events: list[CaseEvent], zone: ZoneInfo) -> dict[str, Any]:
    """The identity check: the method asked, whether a copy came with the request, each time
    one was asked, and each decision on a copy (a mapping in the decision's event: who, the
    result, how many copies were destroyed), labelled as the timeline labels them."""
    declaration = case.declaration
    method = declaration.verification if declaration else Verification.EMAIL

    def document(event: CaseEvent) -> Any:
        return event.data.get("id_document") if isinstance(event.data, dict) else None

    decided = [
        (e.at, event_types.describe_item("id_document", document(e), zone))
        for e in events
        if isinstance(document(e), dict)
    ]
    return {
        "method": dict(Verification.choices).get(method, method),
        "quote": declaration.verification_quote if declaration else "",
        "came_with": _receipt(events).get("id_document") is True,
        "asked": [e for e in events if e.action == "ask_identity"],
        "decided": decided,
        "documents_left": case.id_documents.count(),
    }


@dataclass(frozen=True)
class Policy:
    """The policy a request was received under, and the registry's now.

    ``sha256``: the hash the request's "receive" event recorded (empty for a request received
    before requests recorded it); ``text``: that version's file, if the registry kept it;
    ``current``: the hash of the policy as the registry holds it at render time; ``altered``:
    the registry keeps a file under that hash that does not hash to it (never carried);
    ``missing``: the registry keeps no file under that hash (its row was removed)."""

    sha256: str
    text: str
    current: str
    recorded_at: dt.datetime | None
    altered: bool = False
    missing: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.sha256) and self.sha256 != self.current


def policy_of(case: Case, events: list[CaseEvent]) -> Policy:
    """The policy at receipt, read from the hash-chained first event (never from a field a later
    edit could change), and the registry's policy now."""
    sha = _receipt(events).get("policy")
    sha = sha if isinstance(sha, str) else ""
    version = (
        PolicyVersion.objects.filter(controller=case.controller_id, sha256=sha).first()
        if sha
        else None
    )
    altered = version is not None and policy_sha256(version.text) != sha
    kept = version is not None and not altered
    return Policy(
        sha256=sha,
        text=version.text if kept else "",
        current=policy_sha256(dump_policy(case.controller)),
        recorded_at=version.recorded_at if kept else None,
        altered=altered,
        missing=bool(sha) and version is None,
    )


class Dates:
    """Dates as the report prints them ("3 March 2026 14:05"), in the controller's zone and the
    active language. Django's date filter took a third of the report's own time at 200 events
    (it looks the format up for every date)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.months = [str(MONTHS[month]) for month in range(1, 13)]

    def __call__(self, value: dt.datetime, *, seconds: bool = False) -> str:
        local = value.astimezone(self.zone)
        clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
        return f"{local.day} {self.months[local.month - 1]} {local.year} {clock}"


def lines(text: str) -> list[tuple[str, bool]]:
    """``text`` as its lines, each with whether a blank line comes before it (blank lines
    themselves dropped)."""
    out: list[tuple[str, bool]] = []
    gap = False
    for raw in str(text).splitlines():
        if raw.strip():
            out.append((raw.rstrip(), gap and bool(out)))
            gap = False
        else:
            gap = True
    return out


def blocks(head: str, *texts: tuple[str, str]) -> str:
    """One event or mail as HTML: its head line, then each ``(text, class)``'s lines a block of
    their own. WeasyPrint lays out a block a line in half the time of forced line breaks inside
    one block, and building these here instead of in the template (two hundred events, each a
    loop in a loop) halved the report's own time (bench/report). Every text is escaped here."""
    out = [f'<p class="ev">{escape(head)}</p>']
    for text, css in texts:
        for line, gap in lines(text):
            out.append(f'<p class="{css} gap">' if gap else f'<p class="{css}">')
            out.append(escape(line))
            out.append("</p>")
    return "".join(out)


def _timeline(case: Case, events: list[CaseEvent], dates: Dates) -> list[str]:
    out = []
    for t in timeline(case, events):
        head = [f"#{t.seq} {t.label}", dates(t.at, seconds=True), t.actor]
        if t.from_state != t.to_state:
            head.append(f"{t.from_state} → {t.to_state}")
        if t.ground:
            head.append(t.ground)
        out.append(blocks(" · ".join(head), (t.message, "tx"), *((d, "de") for d in t.details)))
    return out


def _mails(case: Case, dates: Dates) -> list[str]:
    """Every mail of the case; those to the subject with their text as sent (kept when sent,
    or rendered from the row before, private links and codes withheld:
    ``cases.mail.as_recorded``)."""
    out = []
    for mail in case.outgoing_mail.all():
        to_subject = mail.to.lower() == case.email.lower()
        try:
            subject, text = as_recorded(mail, body=to_subject)
        except Exception:  # a template gone since: the row's facts still stand
            subject, text = mail.kind, ""
        status = str(mail.get_status_display())
        if mail.sent_at:
            status += f" {dates(mail.sent_at)}"
        head = [subject, f"{dates(mail.created_at)} → {mail.to}", status]
        if mail.delivery_status:
            head.append(mail.delivery_status)
        out.append(blocks(" · ".join(head), (text, "tx")))
    return out


def context(case: Case, language: str, events: list[CaseEvent] | None = None) -> dict[str, Any]:
    """Everything the report shows, in ``language`` and the controller's time zone (never the
    process's: the same case gives the same report wherever it is rendered). ``events``: the
    case's events in order, read once for the whole report."""
    if events is None:
        events = list(case.events.order_by("seq"))
    moment = as_of(case, events)
    with translation.override(language), timezone.override(case.controller.time_zone):
        chain = chain_state(case, events)
        zone = ZoneInfo(case.controller.time_zone)
        dates = Dates(zone)
        handlers = sorted(
            {e.actor_label for e in events if e.actor_kind == "officer"}
            | ({case.assigned_to.get_username()} if case.assigned_to else set())
        )
        return {
            "case": case,
            "language": language,
            "zone": zone,
            "controller": case.controller,
            "policy": policy_of(case, events),
            "policy_file": POLICY_ATTACHMENT,
            "state": event_types.state_label(case.state),
            "ground": case.refusal_ground_label,
            "handlers": handlers,
            "deadlines": deadlines(case, moment),
            "as_of": moment if case.is_open or case.decision_unsent else None,
            "suspensions": list(case.suspensions.all()),
            "identity": _identity(case, events, zone),
            "timeline": mark_safe(PART.join(_timeline(case, events, dates))),  # noqa: S308
            "mails": mark_safe(PART.join(_mails(case, dates))),  # noqa: S308 - escaped in blocks
            "paused_since": case.paused_since,
            "sections": report_sections(case),
            "chain": chain,
        }


def events_json(case: Case, events: list[CaseEvent] | None = None) -> bytes:
    """The case's events exactly as their hashes cover them, and the chain's head: with the
    audit key, anyone holding the PDF can verify the chain without the database."""
    if events is None:
        events = list(case.events.order_by("seq"))
    listed = [{"content": json.loads(e.canonical()), "hash": e.hash} for e in events]
    document = {
        "reference": case.reference,
        "case_id": case.pk,
        "head": {"count": case.audit_count, "last": case.audit_last, "hash": case.audit_head},
        "events": listed,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1).encode()


def _moment(case: Case, events: list[CaseEvent]) -> tuple[dt.datetime, dt.datetime]:
    return case.received_at, events[-1].at if events else case.received_at


def render(case: Case, *, language: str = "en") -> bytes:
    """The report as PDF/A-3b bytes, the same for the same case (see the module's docstring)."""
    if language not in LANGUAGES:
        raise ValueError(f"language: one of {', '.join(LANGUAGES)}")
    with heap_frozen():  # (cases.pdf: the building of the page allocates as much as its layout)
        return _render(case, language)


def _render(case: Case, language: str) -> bytes:
    from weasyprint import Attachment

    # Read once: the chain's check, the timeline, the identity and events.json all use them.
    events = list(case.events.order_by("seq"))
    created, modified = _moment(case, events)
    shown = context(case, language, events)
    with translation.override(language):
        html = render_to_string(
            "reports/case.html",
            {
                **shown,
                "created": created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "modified": modified.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "part": mark_safe(PART),  # noqa: S308 - a constant comment
                "page_css": page_css(case.reference, _("page")),
            },
        )
    # From what the report says: the same content, the same identifier (and bytes); any change
    # (a download, a delivery report, a registry edit) gives another.
    identifier = hashlib.sha256(html.encode()).hexdigest()[:32]
    attachment = Attachment(
        string=events_json(case, events).decode(),
        name=ATTACHMENT,
        description="The case's events and its chain head, as hashed (dsar case report)",
        created=created.astimezone(dt.UTC),
        modified=modified.astimezone(dt.UTC),
        relationship="Data",
    )
    attachments = [attachment]
    policy: Policy = shown["policy"]
    if policy.text and policy.recorded_at:
        attachments.append(
            Attachment(
                string=policy.text,
                name=POLICY_ATTACHMENT,
                description="The controller's policy file the request was received under",
                created=policy.recorded_at.astimezone(dt.UTC),
                modified=policy.recorded_at.astimezone(dt.UTC),
                relationship="Source",
            )
        )
    documents = parts(html)
    return render_pdf(
        documents[0] if len(documents) == 1 else documents,  # one part: no pages to join
        pdf_variant="pdf/a-3b",
        pdf_identifier=identifier.encode(),
        attachments=attachments,
        uncompressed_pdf=False,
    )


def css_string(text: str) -> str:
    """``text`` as a CSS string: anything but letters, digits, spaces and ``-._`` escaped, so
    nothing in it can end the string or the style sheet."""
    safe = (c if c.isalnum() or c in " -._" else f"\\{ord(c):x} " for c in text)
    return '"' + "".join(safe) + '"'


def page_css(reference: str, page: str) -> str:
    """The footer: the reference, and the page's number. Not "page n of N": a long report is
    laid out in parts (``parts``) and a part cannot know the pages after it. The numbers run on
    across the parts and the last page says it ends the report, which proves a missing page as
    well."""
    footer = 'font: 8pt "DejaVu Sans", sans-serif; color: #555;'
    return mark_safe(  # noqa: S308 - built from CSS strings (css_string) only
        f"@page {{ @bottom-left {{ content: {css_string(reference)}; {footer} }}"
        f" @bottom-right {{ content: {css_string(page + ' ')} counter(page); {footer} }} }}"
    )


def parts(html: str, size: int | None = None) -> list[str]:
    """The report cut where it may be (``PART``) into documents of about ``size`` characters,
    each with the whole head: laid out one by one, they keep WeasyPrint's memory bounded, and
    written as one PDF (``cases.pdf.render_pdf``). Each part starts a page."""
    size = size or PART_SIZE
    head, _sep, rest = html.partition("<body>")
    body, _sep, tail = rest.rpartition("</body>")
    documents: list[str] = []
    current: list[str] = []
    length = 0
    for piece in body.split(PART):
        if current and length + len(piece) > size:
            documents.append("".join(current))
            current, length = [], 0
        current.append(piece)
        length += len(piece)
    documents.append("".join(current))
    return [f"{head}<body>{part}</body>{tail}" for part in documents]


# --- Reading a report back (operators, tests): its embedded events, verified.


def _attachment(pdf: bytes, name: str) -> bytes | None:
    """The one file of this name a PDF carries, or None. Only that file is read (pypdf reads
    attachments when asked). A second file of the same name is refused: a viewer may show
    either, so a forged one beside the genuine one must not verify."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        found = PdfReader(io.BytesIO(pdf)).attachments.get(name)
    except PyPdfError as error:
        raise ValueError(f"not a readable PDF: {error}") from None
    if found and len(found) > 1:
        raise ValueError(f"the PDF carries {len(found)} files named {name}")
    return found[0] if found else None


def embedded_events(pdf: bytes) -> dict[str, Any]:
    """The events.json a report carries."""
    found = _attachment(pdf, ATTACHMENT)
    if found is None:
        raise ValueError(f"the PDF carries no {ATTACHMENT}")
    return json.loads(found)


def embedded_policy(pdf: bytes) -> bytes | None:
    """The policy file a report carries, if it carries one."""
    return _attachment(pdf, POLICY_ATTACHMENT)


def verify_embedded(pdf: bytes) -> list[str]:
    """Verify the chain carried by a report with this installation's audit key: what is wrong,
    or nothing. This proves the embedded events; that the pages show the same case is proved by
    rendering it again (reports are reproducible: ``verify_report --against-database``)."""
    document = embedded_events(pdf)
    policy = embedded_policy(pdf)
    try:
        problems = _verify(document)
        if not problems:
            problems += _policy_problems(document, policy)
    except (TypeError, AttributeError, KeyError, LookupError, ValueError) as error:
        return [f"the embedded events are malformed ({type(error).__name__})"]
    return problems


def _policy_problems(document: dict[str, Any], policy: bytes | None) -> list[str]:
    """Whether the policy file carried is the one whose hash the request's first event
    recorded (the file is not in the chain, its hash is), and is carried where one was."""
    first = document["events"][0]["content"] if document["events"] else {}
    recorded = first.get("data", {}).get("policy") if first.get("action") == "receive" else None
    if policy is None:
        if recorded:
            return [f"the PDF carries no {POLICY_ATTACHMENT}, though the request recorded one"]
        return []
    if not isinstance(recorded, str) or not hmac.compare_digest(
        recorded, hashlib.sha256(policy).hexdigest()
    ):
        return [f"the embedded {POLICY_ATTACHMENT} is not the one the request recorded"]
    return []


def _hex(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 64 or not value.isascii():
        raise ValueError("not a SHA-256")
    int(value, 16)
    return value


def _verify(document: Any) -> list[str]:
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise TypeError("not an events document")
    key = settings.AUDIT_KEY.encode()
    case_id = document["case_id"]
    if not isinstance(case_id, int):
        raise TypeError("case_id")
    problems, previous = [], ""
    for index, event in enumerate(document["events"], start=1):
        content = event["content"]
        if not isinstance(content, dict):
            raise TypeError("content")
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        if content.get("request") != case_id:
            problems.append(f"event #{index}: belongs to another case")
        if content.get("seq") != index:
            problems.append(f"event #{index}: the sequence has a gap")
        if content.get("prev") != previous:
            problems.append(f"event #{index}: does not follow the one before")
        expected = hmac.new(key, canonical, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, _hex(event["hash"])):
            problems.append(f"event #{index}: its hash does not match its content")
        previous = event["hash"]
    head = document["head"]
    if head["count"] != len(document["events"]) or head["last"] != previous:
        problems.append("the head does not match the events")
    elif not hmac.compare_digest(
        head_hash(case_id, head["count"], head["last"]), _hex(head["hash"])
    ):
        problems.append("the head's hash does not match")
    return problems
