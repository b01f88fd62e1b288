"""The events of the rights that change data (``cases.events``): their names, the words of a
plan, a change and a recipient's notice (the officer's panel and the case report read them too),
and the events read as a whole (a change done, a change stopped, a plan made)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cases import events
from controllers.models import Right

from ..models import NoticeException, NoticeStatus
from ..systems.events import RENDERERS as SHARED
from ..systems.events import rows_text
from . import completion, plans

EVENT_TYPES = {
    "plan_made": gettext_lazy("Plan of changes made (dry run)"),
    "correction_approved": gettext_lazy("Correction approved"),
    "system_asked_to_change": gettext_lazy("Processor asked to act on the request"),
    "system_changed": gettext_lazy("Change done in a system"),
    "change_blocked": gettext_lazy("Change stopped: the subject's data changed since the plan"),
    "change_superseded": gettext_lazy("Change not made: its plan was replaced"),
    "change_failed": gettext_lazy("Change in a system failed"),
    "change_retried": gettext_lazy("Change in a system tried again"),
    "change_skipped": gettext_lazy("Change in a system skipped"),
    # Each recipient's state once the changes settled; a notice by mail is told when it left.
    "recipients_notified": gettext_lazy("Recipients' notices (Art. 19)"),
    "recipient_told": gettext_lazy("Notice to a recipient sent (Art. 19)"),
    "notice_undelivered": gettext_lazy("Notice to a recipient did not arrive (Art. 19)"),
    "recipient_answered": gettext_lazy("Answer from a recipient"),
    "recipient_decided": gettext_lazy("Officer's decision on a recipient (Art. 19)"),
    # The letter as written; the response's mail records when it left ("decision_sent").
    "completion_letter": gettext_lazy("Completion letter to the subject"),
    "change_cancelled": gettext_lazy("Change not made: the request ended first"),
}


def purpose_words(purpose: str) -> str:
    """A plan's purpose in words: the right, or the lifting of a restriction."""
    if purpose == plans.LIFT:
        return _("Lifting of a restriction (Art. 18(3))")
    return str(dict(Right.choices).get(purpose, purpose))


def op_words(op: str, purpose: str, via: str = "") -> str:
    """What a plan does to a table, in the officer's words; a lifting's never say "restrict"."""
    if op == "via":
        if purpose == plans.LIFT:
            return (
                _("lifted with its parent (%(parent)s)") % {"parent": via}
                if via
                else (_("lifted with its parent"))
            )
        return (
            _("restricted with its parent (%(parent)s)") % {"parent": via}
            if via
            else (_("restricted with its parent"))
        )
    words = {
        "delete": _("delete"),
        "update": _("change"),
        "restrict": _("restrict"),
        plans.LIFT: _("lift the restriction"),
        "keep": _("keep"),
        "none": _("nothing declared"),
    }
    return words.get(op, op)


def entry_words(table: dict[str, Any], purpose: str) -> str:
    """What a plan does to one table (its entry), in the officer's and the auditor's words."""
    if table["op"] == "none" and table.get("unmarked"):
        return _("keep as it is")  # a restriction that cannot mark it: said beside it
    return op_words(table["op"], purpose, table.get("via", {}).get("label", ""))


def already_words(already: dict[str, Any]) -> str:
    """An objection's or a withdrawal's rows that had stopped already (a plan table's
    ``already``), for the officer and the auditor: how many, since when, left as they are."""
    said = {"n": int(already.get("rows", 0)), "dates": ", ".join(already.get("since", ()))}
    if said["dates"]:
        return _("%(n)d stopped already (since %(dates)s): left as they are") % said
    return _("%(n)d stopped already: left as they are") % said


def unmarked_words(unmarked: dict[str, str]) -> str:
    """Why a table's rows cannot be marked restricted, for the officer and the auditor: the
    systems file's own words, that it declares no way, or that the parent is erased."""
    reasons = {
        "declared": lambda: unmarked.get("text", ""),
        "parent_erased": lambda: _("the parent it is restricted through is erased"),
    }
    reason = reasons.get(unmarked.get("why", ""), lambda: _("the systems file declares no way"))()
    return _("cannot be marked restricted: %(reason)s") % {"reason": reason}


def _changes(value: Any, tz: Any, purpose: str = "") -> str:
    if not isinstance(value, dict):
        return str(value)
    parts = []
    for system, tables in value.items():
        if isinstance(tables, dict):
            # Each table's "op count", as plans.summary keeps it: the op said in words.
            said = {}
            for name, text in tables.items():
                op, _space, count = str(text).rpartition(" ")
                said[name] = f"{op_words(op, purpose)} {count}" if op else text
            what = rows_text(said, tz)
        else:
            what = str(tables)
        parts.append(f"{system} ({what})")
    return _("Changes: %(list)s") % {"list": "; ".join(parts) or _("none")}


def told_how(notice: Any, titles: dict[str, str]) -> str:
    """How a recipient was told, for the officer and the auditor ("" while it is not, or
    when nothing says): through the request made to its processor's system (``titles``: the
    plan's system titles by name), by mail to its address, or another way (the officer's note
    says how)."""
    how = notice.how
    if how == "system":
        name = notice.system_name
        return _("through the request made to its system (%(system)s)") % {
            "system": titles.get(name, name)
        }
    if how == "email":
        return _("by mail to %(address)s") % {
            "address": notice.mail.to if notice.mail else notice.address
        }
    if how == "other":
        return _("another way")
    return ""


def _notices(value: Any, tz: Any) -> str:
    labels = dict(NoticeStatus.choices)  # the status's words, never its code
    exceptions = dict(NoticeException.choices)
    return "; ".join(
        f"{n['recipient']}: {labels.get(n['status'], n['status'])}"
        + (f": {_(n['reason'])}" if n.get("reason") else "")
        + (f": {exceptions.get(n['exception'], n['exception'])}" if n.get("exception") else "")
        + (f" ({n['note']})" if n.get("note") else "")
        for n in value
    )


def _decision(value: Any, tz: Any) -> str:
    """An officer's decision on a recipient that waited for them, in words."""
    texts = {
        "mail": lambda: _("Told by mail"),
        "other": lambda: _("Told another way"),
        "impossible": lambda: _("Not told: it proves impossible (Art. 19)"),
        "disproportionate_effort": lambda: _(
            "Not told: it involves a disproportionate effort (Art. 19)"
        ),
        "not_disclosed": lambda: _("None of the subject's data went to it"),
    }
    return texts[value]() if value in texts else str(value)


RENDERERS = {
    "plan": lambda v, tz: _("Plan SHA-256 %(hash)s") % {"hash": v},
    "purpose": lambda v, tz: _("For: %(purpose)s") % {"purpose": purpose_words(v)},
    "replaces": lambda v, tz: _("Replaces the approved plan SHA-256 %(hash)s") % {"hash": v},
    "changes": _changes,
    "verified": lambda v, tz: _("Verified: searched again, nothing planned is left") if v else "",
    "before_sha256": lambda v, tz: (
        _("Previous values kept as SHA-256 only: %(fields)s") % {"fields": ", ".join(v)}
    ),
    "notices": _notices,
    "decision": _decision,
    "recipient": lambda v, tz: _("Recipient: %(name)s") % {"name": v},
    "answer": lambda v, tz: _("Answer: %(text)s") % {"text": v},
    "letter": lambda v, tz: _("Letter: %(text)s") % {"text": v},
    "value": lambda v, tz: _("New value: %(text)s") % {"text": v},
    "after_skip": lambda v, tz: _("It ran although it had been skipped meanwhile") if v else "",
    "findable": lambda v, tz: (
        _("Kept rows findable by key in a later access request: %(list)s")
        % {"list": ", ".join(f"{table} {n}" for table, n in v.items())}
    ),
    "stopped_already": lambda v, tz: (
        _("Stopped already before the change, left as they were: %(list)s")
        % {"list": ", ".join(f"{table} {n}" for table, n in v.items())}
    ),
}

# A done change, a stopped one and a plan read the shared keys and their own alike.
_READ = {**SHARED, **RENDERERS}


# --- Events read as a whole: what one key means depends on another (the kind of system).

# A change's rows by what was done to them (its plan's operation on the table).
_DONE_AS = {
    "delete": lambda: _("Deleted: %(list)s"),
    "update": lambda: _("Changed: %(list)s"),
    "restrict": lambda: _("Restricted: %(list)s"),
    plans.LIFT: lambda: _("Lifted: %(list)s"),
    "via": lambda: _("Restricted with their parent: %(list)s"),
    "via-lift": lambda: _("Lifted with their parent: %(list)s"),
}


def _manual(data: dict[str, Any], tz: Any) -> str:
    """A manual task as the officer recorded the owner's answer: who confirmed it, when, how;
    never verified (nobody searched) and, for data kept under a ground, never erased."""
    said = {
        "officer": data.get("confirmed_by") or "?",
        "when": events.moment(data.get("confirmed_at", ""), tz),
        "note": data.get("confirmed", ""),
    }
    task = data.get("task")
    if data.get("found") is False:
        return (
            _(
                "Its owner found none of the subject's data there, as confirmed by %(officer)s "
                "on %(when)s: %(note)s"
            )
            % said
        )
    if task == "keep":
        said["ground"] = data.get("keep_ground", "")
        if data.get("keep_until"):
            said["until"] = completion.date_text(data["keep_until"])
            return (
                _(
                    "Kept under %(ground)s until %(until)s; restricted by its owner, as "
                    "confirmed by %(officer)s on %(when)s: %(note)s"
                )
                % said
            )
        return (
            _(
                "Kept under %(ground)s; restricted by its owner, as confirmed by %(officer)s on "
                "%(when)s: %(note)s"
            )
            % said
        )
    texts = {
        "delete": lambda: _(
            "Deleted by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
        "restriction": lambda: _(
            "Restricted by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
        "lift": lambda: _(
            "Restriction lifted by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
        "rectification": lambda: _(
            "Corrected by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
    }
    text = texts.get(str(task)) or (
        lambda: _(
            "Processing stopped by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        )
    )
    return text() % said


def describe_change(data: dict[str, Any], tz: Any, *, heading: bool = True) -> list[str]:
    """A ``system_changed`` event's data (``execute.evidence``), by kind: an SQL system's rows
    deleted, changed or restricted, searched again; a manual task confirmed by whom and when;
    a processor's report of completion with its answer. Events of the earlier shape (an SQL
    count and "verified" on every kind) are read as what they can prove: a manual task's or
    a processor's empty count and "verified" are not repeated. ``heading``: with the system,
    the purpose and the plan (the panel and the report show them beside it)."""
    kind = data.get("system_kind") or (
        "manual" if "confirmed" in data else "http" if "processor" in data else "sql"
    )
    named = ("system", "purpose", "plan") if heading else ()
    lines = [_READ[key](data[key], tz) for key in named if key in data]
    if kind == "sql" and "done" in data:
        grouped: dict[str, list[str]] = {}
        lifting = data.get("purpose") == plans.LIFT
        for item in data["done"]:
            if item.get("rows"):
                op = item.get("op", "")
                op = "via-lift" if op == "via" and lifting else op
                grouped.setdefault(op, []).append(f"{item['table']} {item['rows']}")
        for op, items in grouped.items():
            text = _DONE_AS.get(op, _DONE_AS["update"])()
            lines.append(text % {"list": ", ".join(items)})
        if not grouped and data.get("stopped_already"):
            # The subject's rows were there, and had stopped already (said below).
            lines.append(_("Nothing was changed"))
        elif not grouped:
            lines.append(_("Nothing of the subject's was there to change"))
        for item in data.get("kept", ()):
            said = {"table": item["table"], "n": int(item["rows"]), "ground": item["ground"]}
            if item.get("until"):
                said["until"] = completion.date_text(item["until"])
                text = _("%(table)s: %(n)d kept under %(ground)s until %(until)s")
            else:
                text = _("%(table)s: %(n)d kept under %(ground)s")
            lines.append(text % said)
        if data.get("files"):
            n = int(data["files"])
            lines.append(ngettext("%(n)d file deleted", "%(n)d files deleted", n) % {"n": n})
        if data.get("stopped_already"):
            lines.append(_READ["stopped_already"](data["stopped_already"], tz))
        if data.get("findable"):
            lines.append(_READ["findable"](data["findable"], tz))
    elif kind == "sql":  # the earlier shape: counts, files and "verified", all true of SQL
        lines += [_READ[key](data[key], tz) for key in ("rows", "files") if key in data]
    elif kind == "manual" and "system_kind" in data:
        lines.append(_manual(data, tz))
    elif kind == "manual":
        lines.append(_READ["confirmed"](data["confirmed"], tz))
    elif "system_kind" in data:
        answer = data.get("answer") or {}
        lines.append(
            _("The processor reported the request completed on %(when)s; its answer: %(answer)s")
            % {
                "when": events.moment(data.get("reported_at", ""), tz),
                "answer": ", ".join(f"{k}: {v}" for k, v in answer.items()) or "—",
            }
        )
        if data.get("request"):
            lines.append(_READ["request"](data["request"], tz))
    else:
        lines.append(_READ["processor"](data["processor"], tz))
    if kind == "sql" and data.get("verified"):
        lines.append(_READ["verified"](True, tz))
    lines += [
        _READ[key](data[key], tz)
        for key in ("before_sha256", "warnings", "after_skip")
        if data.get(key)
    ]
    return lines


def describe_blocked(data: dict[str, Any], tz: Any) -> list[str]:
    """A change stopped before it wrote: per table, the subject's rows found and those the
    approved plan counted."""
    lines = [_READ[key](data[key], tz) for key in ("system", "plan") if key in data]
    planned = data.get("planned", {})
    for table, found in data.get("found_now", {}).items():
        lines.append(
            _(
                "%(table)s: %(found)d rows hold the subject now, the approved plan counted "
                "%(planned)d"
            )
            % {"table": table, "found": int(found), "planned": int(planned.get(table, 0))}
        )
    lines.append(_("Nothing was changed there: make the plan again."))
    return lines


def describe_plan(data: dict[str, Any], tz: Any) -> list[str]:
    """A plan made: its hash, its purpose and what it does per table, in words (a lifting's
    say "lift", never "restrict")."""
    purpose = str(data.get("purpose", ""))
    lines = [_READ[key](data[key], tz) for key in ("plan", "purpose") if key in data]
    if "changes" in data:
        lines.append(_changes(data["changes"], tz, purpose))
    if data.get("already"):
        # The rows counted apart from the changes: they had stopped already.
        lines.append(
            _("Stopped already, left as they are: %(list)s")
            % {
                "list": "; ".join(
                    f"{system} ({rows_text(tables, tz)})"
                    for system, tables in data["already"].items()
                )
            }
        )
    if "replaces" in data:
        lines.append(_READ["replaces"](data["replaces"], tz))
    return lines


DESCRIBERS = {
    "system_changed": describe_change,
    "change_blocked": describe_blocked,
    "plan_made": describe_plan,
}
