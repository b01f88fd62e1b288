"""The registry of event types: what each kind of event in the audit trail is called, in Dutch
and English, and a readable rendering of the data it keeps.

A step's event reads as the steps table says (``Step.event``); the other events (receipt,
assignment, mail in and mail out) are declared here, in ``EVENT_TYPES``. The case page and the
case report render every event through ``label`` and ``describe``, never the raw code or data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .models import CaseEvent, Channel, ObjectionTo, PauseReason, State, grounds
from .steps import STEPS

EVENT_TYPES: dict[str, Promise] = {
    "receive": gettext_lazy("Request received"),
    "assign": gettext_lazy("Assignment changed"),
    "mail_reply": gettext_lazy("Reply by mail from the subject"),
    "mail_unmatched": gettext_lazy("Mail naming this request, from another address"),
    # The mail that carries a decision or an extension notice left (cases.mail.deliver): the
    # moment the deadline is judged by.
    "decision_sent": gettext_lazy("Decision sent to the subject"),
    "extension_sent": gettext_lazy("Extension notice sent to the subject"),
    # The reminders' sweep: a decision's deadline passed with its mail not sent (or arrived).
    "decision_unsent": gettext_lazy("Deadline passed: the decision has not reached the subject"),
    # anymail's tracking events, as the mail provider reports them.
    "mail_queued": gettext_lazy("Mail queued by the provider"),
    "mail_sent": gettext_lazy("Mail sent by the provider"),
    "mail_delivered": gettext_lazy("Mail delivered"),
    "mail_deferred": gettext_lazy("Mail delivery deferred"),
    "mail_bounced": gettext_lazy("Mail bounced"),
    "mail_rejected": gettext_lazy("Mail rejected by the provider"),
    "mail_failed": gettext_lazy("Mail could not be sent"),
    "mail_complained": gettext_lazy("Mail marked as spam by the recipient"),
    "mail_opened": gettext_lazy("Mail opened"),
    "mail_clicked": gettext_lazy("Link in mail clicked"),
    "mail_autoresponded": gettext_lazy("Automatic reply to mail"),
    "mail_unsubscribed": gettext_lazy("Recipient unsubscribed"),
    "mail_subscribed": gettext_lazy("Recipient subscribed"),
    "mail_unknown": gettext_lazy("Unknown report from the mail provider"),
}

# The fate of an ID copy as the record keeps it (cases.workflow), in the reader's language.
ID_RESULTS: dict[str, Promise] = {
    "approved": gettext_lazy("approved"),
    "rejected": gettext_lazy("rejected"),
    "not accepted; a new document was asked for": gettext_lazy(
        "not accepted; a new document was asked for"
    ),
}


def register(
    event_types: dict[str, Promise],
    renderers: dict[str, Callable[[Any, dt.tzinfo], str]] | None = None,
    describers: dict[str, Callable[[dict[str, Any], dt.tzinfo], list[str]]] | None = None,
) -> None:
    """A room above the core declares the events it writes (through ``audit.note``) and how the
    data they keep reads: at start-up, from its AppConfig.ready. ``describers`` read an event
    type's data as a whole, where one key's meaning depends on another's (the same count means
    "searched again" in one system and "nobody counted" in another)."""
    for name, text in event_types.items():
        if name in STEPS or EVENT_TYPES.get(name, text) != text:
            raise ValueError(f"event type {name!r} is declared twice")
    for key, render in (renderers or {}).items():
        if RENDERERS.get(key, render) is not render:
            raise ValueError(f"data key {key!r} is declared twice")
    for name, whole in (describers or {}).items():
        if DESCRIBERS.get(name, whole) is not whole:
            raise ValueError(f"event type {name!r} is described twice")
    EVENT_TYPES.update(event_types)
    RENDERERS.update(renderers or {})
    DESCRIBERS.update(describers or {})


def label(action: str) -> str:
    """The human name of an event type: a step's as the steps table says, the others' as
    declared above; an unknown one (a type retired since) shows its code."""
    step = STEPS.get(action)
    return str(step.event if step else EVENT_TYPES.get(action, action))


def state_label(state: str) -> str:
    return str(dict(State.choices).get(state, state)) if state else "—"


def ground_label(ground: str, country: str = "") -> str:
    """A recorded ground, retired ones too; Art. 23 in the words of the country's law."""
    return grounds.ground_label(ground, country)


def _yes(value: Any) -> str:
    return _("yes") if value else _("no")


def moment(value: Any, tz: dt.tzinfo) -> str:
    """An ISO 8601 instant kept in an event's data, in the reader's zone and language."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return formats.date_format(moment, "DATETIME_FORMAT")


def _checklist_labels() -> dict[str, str]:
    return {
        field.name: str(field.label)
        for step in STEPS.values()
        for field in step.fields
        if field.kind == "check"
    }


def _id_document(value: Any, tz: dt.tzinfo) -> str:
    if isinstance(value, bool):  # at receipt: whether a copy came with the request
        return _("an ID copy came with it") if value else _("no ID copy came with it")
    if isinstance(value, dict) and str(value.get("result", "")).startswith("not decided ("):
        # Recorded before "unchecked" existed: "not decided (<step> from <state>)", by whoever
        # ended the request; nobody checked it.
        value = {"unchecked": value["result"][len("not decided (") :].split(" ")[0], **value}
    if isinstance(value, dict) and "unchecked" in value:
        deleted = int(value.get("deleted", 0) or 0)
        ended = STEPS.get(str(value["unchecked"]))
        return _(
            "ID copy deleted unchecked: the request ended (%(step)s) before identity was "
            "decided; %(deleted)s"
        ) % {
            "step": str(ended.event) if ended else value["unchecked"],
            "deleted": ngettext("%(n)d copy deleted", "%(n)d copies deleted", deleted)
            % {"n": deleted},
        }
    if isinstance(value, dict):
        result = str(value.get("result", ""))
        deleted = int(value.get("deleted", 0) or 0)
        return _("ID copy checked by %(who)s: %(result)s; %(deleted)s") % {
            "who": value.get("checked_by", "?"),
            "result": str(ID_RESULTS.get(result, result)),
            "deleted": ngettext("%(n)d copy deleted", "%(n)d copies deleted", deleted)
            % {"n": deleted},
        }
    return str(value)


def _attachments(value: Any, tz: dt.tzinfo) -> str:
    items = []
    for item in value if isinstance(value, list) else []:
        name = str(item.get("name", "?"))
        if "refused" in item:
            items.append(_("%(name)s (refused: %(why)s)") % {"name": name, "why": item["refused"]})
        elif item.get("kept") == "id_document":
            items.append(_("%(name)s (kept as the ID copy)") % {"name": name})
        else:
            items.append(_("%(name)s (not kept)") % {"name": name})
    return _("Attachments: %(list)s") % {"list": "; ".join(items) or "—"}


def pause_reason_label(reason: str) -> str:
    """Why the clock was paused; a suspension from before reasons were recorded says so."""
    if not reason:
        return _("reason not recorded")
    return str(dict(PauseReason.choices).get(reason, reason))


def _suspension(value: Any, tz: dt.tzinfo) -> str:
    days = int(value.get("days_added", 0))
    parts = {
        "since": moment(value.get("since"), tz),
        "days": ngettext("%(n)d day", "%(n)d days", days) % {"n": days},
    }
    if "reason" not in value:  # recorded before the reason was: read as it was written
        return _("Clock resumed: paused since %(since)s, %(days)s added") % parts
    return _("Clock resumed: paused since %(since)s (%(reason)s), %(days)s added") % {
        **parts,
        "reason": pause_reason_label(value["reason"]),
    }


def _clock_paused(value: Any) -> str:
    if not value:
        return ""
    if value is True:  # recorded before the reason was
        return _("Clock paused while the subject is asked")
    return _("Clock paused: %(reason)s") % {"reason": pause_reason_label(str(value))}


# One renderer a data key; each returns a line of plain text (escaped where it is shown).
RENDERERS: dict[str, Callable[[Any, dt.tzinfo], str]] = {
    "channel": lambda v, tz: (
        _("Channel: %(channel)s") % {"channel": dict(Channel.choices).get(v, v)}
    ),
    "id_document": _id_document,
    "duplicate_of": lambda v, tz: _("Possible duplicate of %(reference)s") % {"reference": v},
    "policy": lambda v, tz: _("Policy file in force (SHA-256): %(hash)s") % {"hash": v},
    "suspension": lambda v, tz: _suspension(v, tz),
    "clock_paused": lambda v, tz: _clock_paused(v),
    "doubt": lambda v, tz: _("Doubt about the identity: %(text)s") % {"text": v} if v else "",
    "evidence": lambda v, tz: _("Evidence (Art. 12(5)): %(text)s") % {"text": v} if v else "",
    "partial_evidence": lambda v, tz: (
        _("Evidence (Art. 12(5)): %(text)s") % {"text": v} if v else ""
    ),
    "objection_to": lambda v, tz: (
        _("The objection is to: %(what)s") % {"what": dict(ObjectionTo.choices).get(v, v)}
        if v
        else ""
    ),
    "late_refusal": lambda v, tz: _("Sent after the first month (Art. 12(4))") if v else "",
    "reason": lambda v, tz: _("Reasons: %(reason)s") % {"reason": v},
    "response": lambda v, tz: _("Response: %(text)s") % {"text": v},
    "partial_reason": lambda v, tz: _("Why part is refused: %(text)s") % {"text": v} if v else "",
    "checklist": lambda v, tz: "; ".join(
        f"{_checklist_labels().get(k, k)}: {_yes(checked)}" for k, checked in v.items()
    ),
    "assigned_to": lambda v, tz: _("Assigned to %(user)s") % {"user": v} if v else _("Unassigned"),
    "attachments": _attachments,
    "from": lambda v, tz: _("From: %(sender)s") % {"sender": v},
    "subject": lambda v, tz: _("Subject: %(subject)s") % {"subject": v},
    "kind": lambda v, tz: _("Mail: %(kind)s") % {"kind": v},
    "to": lambda v, tz: _("To: %(address)s") % {"address": v},
    "provider": lambda v, tz: _("Provider: %(name)s") % {"name": v},
    "mail": lambda v, tz: "",  # the mail row's id: shown through kind and address
    "due": lambda v, tz: _("Due: %(when)s") % {"when": moment(v, tz)},
}


# Event types whose data reads as a whole (declared by the room that writes them).
DESCRIBERS: dict[str, Callable[[dict[str, Any], dt.tzinfo], list[str]]] = {}


def describe(event: CaseEvent, *, tz: str = "UTC") -> list[str]:
    """The event's data as readable lines, in the active language (plain text, not HTML)."""
    zone = ZoneInfo(tz)
    whole = DESCRIBERS.get(event.action)
    if whole is not None and isinstance(event.data, dict):
        try:
            return [line for line in whole(event.data, zone) if line]
        except (AttributeError, KeyError, TypeError, ValueError):
            pass  # data of an older shape: read key by key below, never lost
    lines = (describe_item(key, value, zone) for key, value in (event.data or {}).items())
    return [line for line in lines if line]


def describe_item(key: str, value: Any, zone: dt.tzinfo) -> str:
    """One item of an event's data as a readable line ("" for one that says nothing)."""
    render = RENDERERS.get(key)
    try:
        return render(value, zone) if render else f"{key}: {value}"
    except (AttributeError, TypeError, ValueError):
        return f"{key}: {value}"  # data of an older shape: shown as it is, never lost
