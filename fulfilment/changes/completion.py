"""The completion letter of a right that changed data: what was erased (or restricted, corrected,
stopped), what was kept, on which legal ground and until when, which recipients were told,
which received none of the subject's data and which were not told and why, and the right to
complain. Written in the subject's language from the
approved plan and what the changes recorded, when the officer sends the response; the text
is kept in the case (a message to the subject, and the event the chain covers).

What was done is read from every done change of the request's plans, the current one and
any it replaced: a system erased under a first plan is said erased, though the second plan's
dry run found nothing left there. What stays as it is comes from the current plan's dry run.

``send_letter`` writes and mails it when the response is sent; ``announce_lift`` tells the
subject that a restriction is to be lifted, before it is (Art. 18(3)).

What counts as a change recipients are told of (``effect``, ``changed``) and what a recipient
has to be told of, by the systems whose data it receives (``concerned``), are decided here, for
the letter and for ``fulfilment.changes.execute.settle`` alike.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail
from cases.models import Carries, Case, Direction, Message
from controllers.models import Right, SystemKind

from ..models import Change, ChangeStatus, NoticeException, NoticeStatus, Plan, PlanStatus

# Why a recipient was not told (Art. 19), or waits for the officer: kept in the record in
# English (``Notice.reason``), read in the reader's language.
NOTHING_CHANGED = gettext_noop(
    "no system changed, or reported changing, any of the subject's data: there was nothing to tell"
)
NOTHING_OF_THEIRS = gettext_noop(
    "nothing of the subject's data in the systems whose data it receives was changed: there "
    "was nothing to tell"
)
RECEIVES_NONE = gettext_noop(
    "it receives data only from systems that held none of the subject's: none was disclosed to it"
)
OCCASIONAL = gettext_noop(
    "it receives data only on occasion: record whether the subject's data went to it"
)
UNDECLARED = gettext_noop("no way to tell it is declared in the systems file ([[notify]])")
NOT_ASKED = gettext_noop(
    "its processor's API was not asked to act on this request, and no address for a notice is "
    "declared"
)
PROCESSOR_SILENT = gettext_noop(
    "a processor reported the request completed without saying whether it held any of the "
    "subject's data: ask it"
)
# What a recipient's systems show of the subject's data (``concerned``).
CHANGED, SILENT, UNCHANGED, NONE = "changed", "silent", "unchanged", "none"

# What a right did, by table: the line for one table's rows.
_DONE = {
    "delete": lambda n, label: ngettext(
        "%(n)d record of %(label)s deleted.", "%(n)d records of %(label)s deleted.", n
    ),
    "update": lambda n, label: ngettext(
        "%(n)d record of %(label)s changed.", "%(n)d records of %(label)s changed.", n
    ),
    "restrict": lambda n, label: ngettext(
        "%(n)d record of %(label)s restricted.", "%(n)d records of %(label)s restricted.", n
    ),
}


def _kept(entry: dict[str, Any]) -> str:
    if not entry.get("keep_ground"):
        return ""
    text = _("Kept because: %(ground)s") % {"ground": entry["keep_ground"]}
    if entry.get("keep_until"):
        text += " " + _("Kept until %(date)s at the latest.") % {"date": entry["keep_until"]}
    return text


def _opening(purpose: str, company: str) -> str:
    texts = {
        Right.ERASURE: _("%(company)s has erased your personal data as follows."),
        Right.RESTRICTION: _("%(company)s has restricted the processing of your data as follows."),
        Right.RECTIFICATION: _("%(company)s has corrected your data as follows."),
        Right.OBJECTION: _("%(company)s has acted on your objection as follows."),
        Right.WITHDRAW_CONSENT: _(
            "%(company)s has acted on the withdrawal of your consent as follows."
        ),
    }
    return texts.get(purpose, texts[Right.ERASURE]) % {"company": company}


def _restriction_opening(plan: Plan, done: dict[str, list[Change]], company: str) -> list[str]:
    """A restriction's opening claims it only of what was restricted: each table whose rows
    were marked (by their own flag or their parent's) and each department that confirmed it;
    where rows could not be marked, it says so (the reasons follow, system by system)."""
    where: list[str] = []
    for changes in done.values():
        for change in changes:
            if not effect(change):
                continue
            if change.kind == SystemKind.SQL:
                for table in change.entry.get("tables", ()):
                    if change.counts.get(table["table"]) and table["label"] not in where:
                        where.append(table["label"])
            elif change.system_title not in where:
                where.append(change.system_title)
    unmarked = [
        table["label"]
        for entry in plan.body["systems"]
        for table in entry.get("tables", ())
        if table["op"] == "none" and table.get("rows")  # (every "none" is unmarked here)
    ]
    if where:
        out = [
            _("%(company)s has restricted the processing of your data in: %(where)s.")
            % {"company": company, "where": ", ".join(where)}
        ]
    else:
        out = [_("%(company)s has handled your request as follows.") % {"company": company}]
    if unmarked:
        out[0] += " " + _(
            "Your data in %(where)s could not be marked restricted; below it says why."
        ) % {"where": ", ".join(unmarked)}
    return out


def done_changes(case: Case, purpose: str) -> list[Change]:
    """Every change done for this request and purpose, under its current plan or one that plan
    replaced, oldest first."""
    return list(
        Change.objects.filter(case=case, plan__purpose=purpose, status=ChangeStatus.DONE)
        .select_related("plan", "answered_by")
        .order_by("pk")
    )


def reported_records(change: Change) -> int | None:
    """How many of the subject's records a processor reported it acted on (its answer's
    ``affected_records``, this protocol's word for it; the demo processor reports it), or None
    when its answer does not say."""
    value = (change.reported or {}).get("affected_records")
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 0 else None


def stopped_already(change: Change, table: dict[str, Any]) -> dict[str, Any]:
    """Of an objection's or a withdrawal's table (its plan ``table`` entry), the rows whose
    processing had stopped already, ``{"rows", "since"}``: as the change found them when it
    first ran (``Change.already``), or, for a change recorded before that was kept, as the
    plan's dry run counted them."""
    if change.already is not None:
        return change.already.get(table.get("table", ""), {})
    return table.get("already", {})


def changed_rows(change: Change) -> dict[str, int]:
    """Of a done SQL change, the rows each table had changed, by table: its counts (the
    subject's rows the change covered, as the approved plan counted them) less an objection's
    or a withdrawal's rows whose processing had stopped already when it ran (left as they
    were: no change of ours). What the record, the panel, the report and the letter call
    changed."""
    planned = {t["table"]: t for t in change.entry.get("tables", ())}
    out = {}
    for table, rows in change.counts.items():
        before = stopped_already(change, {"table": table, **planned.get(table, {})})
        out[table] = max(int(rows) - int(before.get("rows", 0)), 0)
    return out


def effect(change: Change) -> bool:
    """Whether a done change is known to have changed the subject's data (what recipients are
    told of, and what the letter's opening claims):

    - SQL: a table the plan changes had rows of the subject (an objection's or a withdrawal's
      rows that had stopped already when it ran do not count); for an erasure, marking kept rows
      restricted is not an erasure, and does not count;
    - manual: the owner reported the subject's data there and did as asked; for an erasure, a
      task to keep (and restrict) erases nothing, and does not count;
    - HTTP: the processor's answer says it acted on some of the subject's records
      (``reported_records``). One that reports only that it completed the request has not said
      that it held anything: that is no change known here, and the recipients it concerns wait
      for the officer (``concerned``: "silent"), never told or passed over unseen.
    """
    purpose = change.plan.purpose
    entry = change.entry
    if change.kind == SystemKind.SQL:
        ops = {t["table"]: t["op"] for t in entry.get("tables", ())}
        return any(
            rows
            # For an erasure, marking kept rows restricted is not an erasure.
            and not (purpose == Right.ERASURE and ops.get(table) in ("restrict", "via"))
            for table, rows in changed_rows(change).items()
        )
    if change.kind == SystemKind.MANUAL:
        # None: confirmed before the owner's answer was asked for, as done.
        kept = purpose == Right.ERASURE and entry.get("task") == "keep"
        return change.found is not False and not kept
    return (reported_records(change) or 0) > 0


def changed(case: Case, purpose: str, done: list[Change] | None = None) -> bool:
    """Whether any change of this request (under any of its plans) changed the subject's data
    (``done``: ``done_changes``, read already)."""
    done = done_changes(case, purpose) if done is None else done
    return any(effect(e) for e in done)


def approved_bodies(case: Case, purpose: str) -> list[dict[str, Any]]:
    """The bodies of every plan of this purpose that was approved (the current one and those
    it replaced): their dry runs say which systems held the subject's data."""
    return [p.body for p in case.plans.filter(purpose=purpose, approved_at__isnull=False)]


def _held(system: str, done: list[Change], approved: list[dict[str, Any]]) -> bool:
    """Whether ``system`` held any of the subject's data, as far as the request shows: an SQL
    system's counts in any approved plan, a manual owner's answer, a processor's reported
    records. What the request cannot show counts as held: "none of your data were disclosed"
    is said only where it is known."""
    answers: list[bool] = []
    for change in done:
        if change.system_name != system:
            continue
        if change.kind == SystemKind.MANUAL and change.found is not None:
            answers.append(change.found)
        elif change.kind == SystemKind.HTTP:
            records = reported_records(change)
            answers.append(records is None or records > 0)
    for body in approved:
        for entry in body["systems"]:
            if entry["system"] == system and "tables" in entry:
                answers.append(
                    bool(entry.get("error")) or any(t.get("rows") for t in entry["tables"])
                )
    return any(answers) or not answers


def concerned(
    case: Case,
    purpose: str,
    systems: list[str] | None,
    *,
    done: list[Change] | None = None,
    approved: list[dict[str, Any]] | None = None,
) -> str:
    """What a recipient that receives the data of ``systems`` (None: of every system) has to be
    told of this request's changes (under any of its plans): ``CHANGED`` (the subject's data
    there were changed: it is told), ``SILENT`` (no change known, but a processor there
    reported completion without saying what it held: the officer asks), ``UNCHANGED`` (nothing
    of the subject's there changed: nothing to tell) or ``NONE`` (those systems held none of
    the subject's data: none was disclosed to it). ``done`` and ``approved``
    (``done_changes``, ``approved_bodies``): read once by a caller that asks for every
    recipient."""
    done = done_changes(case, purpose) if done is None else done
    mine = [e for e in done if systems is None or e.system_name in systems]
    if any(effect(e) for e in mine):
        return CHANGED
    if any(e.kind == SystemKind.HTTP and reported_records(e) is None for e in mine):
        return SILENT
    if systems is not None:
        approved = approved_bodies(case, purpose) if approved is None else approved
        if not any(_held(name, done, approved) for name in systems):
            return NONE
    return UNCHANGED


def deleted_in(purpose: str, done: list[Change]) -> set[str]:
    """The systems where this request deleted some of the subject's records (an objection's or
    a withdrawal's notice says so to the recipients of their data): an SQL table the plan
    deletes from, with the subject's rows, or a manual owner's deletion done as asked
    (``done``: ``done_changes``)."""
    found = set()
    for change in done:
        entry = change.entry
        if change.kind == SystemKind.SQL:
            ops = {t["table"]: t["op"] for t in entry.get("tables", ())}
            if any(rows and ops.get(t) == "delete" for t, rows in change.counts.items()):
                found.add(change.system_name)
        elif change.kind == SystemKind.MANUAL and change.found and entry.get("task") == "delete":
            found.add(change.system_name)
    return found


def _day(case: Case, change: Change) -> str:
    moment = change.finished_at or change.answered_at
    if moment is None:
        return "—"
    zone = ZoneInfo(case.controller.time_zone)
    return formats.date_format(timezone.localtime(moment, zone), "DATE_FORMAT")


def _done(case: Case, purpose: str, change: Change) -> list[str]:
    """What one done change did, line by line, said as what it is."""
    entry = change.entry
    day = {"date": _day(case, change)}
    if change.kind == SystemKind.SQL:
        lines = []
        for table in entry.get("tables", ()):
            rows = change.counts.get(table["table"], 0)
            if rows and table.get("processing"):
                # What had stopped already, as the change found it (not the dry run's figure).
                table = {**table, "already": stopped_already(change, table)}
            if rows:
                lines += _table_done(purpose, table, rows, day["date"])
        return lines
    if change.kind == SystemKind.HTTP:
        return [
            _(
                "Our processor was asked to act on your request and reported it completed on "
                "%(date)s."
            )
            % day
        ]
    if change.found is False:
        return [
            _("The department that keeps it found none of your data there (confirmed on %(date)s).")
            % day
        ]
    task = entry.get("task")
    if task == "keep":
        return [
            _(
                "Kept and restricted by the department that keeps it (confirmed on %(date)s): "
                "used only for the reason below."
            )
            % day,
            _kept(entry),
        ]
    if task == "delete":
        return [_("Deleted by the department that keeps it (confirmed on %(date)s).") % day]
    said = {
        Right.RESTRICTION: lambda: _(
            "Restricted by the department that keeps it (confirmed on %(date)s)."
        ),
        Right.RECTIFICATION: lambda: _(
            "Corrected by the department that keeps it (confirmed on %(date)s)."
        ),
        Right.OBJECTION: lambda: _(
            "The department that keeps it stopped the processing you objected to (confirmed "
            "on %(date)s)."
        ),
        Right.WITHDRAW_CONSENT: lambda: _(
            "The department that keeps it stopped the processing that rested on your consent "
            "(confirmed on %(date)s)."
        ),
    }
    text = said.get(task) or (
        lambda: _("Done by the department that keeps it (confirmed on %(date)s).")
    )
    return [text() % day]


def _n(n: int, label: str, **more: str) -> dict[str, Any]:
    return {"n": n, "label": label, **more}


def _table_done(purpose: str, table: dict[str, Any], rows: int, day: str) -> list[str]:
    """What a done change did to one table's ``rows``, by what the plan said it would do."""
    label, op = table["label"], table["op"]
    if table.get("processing"):
        return _stopped(table, rows, day)
    if purpose == Right.ERASURE and op != "delete":
        return _kept_rows(table, rows)
    if op == "via":
        parent = table.get("via", {}).get("label", "")
        return [
            ngettext(
                "%(n)d record of %(label)s restricted with the %(parent)s record it belongs to.",
                "%(n)d records of %(label)s restricted with the %(parent)s records they belong to.",
                rows,
            )
            % _n(rows, label, parent=parent)
        ]
    if op in _DONE:
        return [_DONE[op](rows, label) % _n(rows, label)]
    return []


def _stopped(table: dict[str, Any], rows: int, day: str) -> list[str]:
    """An objection's or a withdrawal's table: the processing it stopped, named in the
    controller's words (quoted as written), stopped now or already before."""
    label, processing = table["label"], table["processing"]
    already = table.get("already", {})
    before = min(int(already.get("rows", 0)), rows)
    lines = []
    if now := rows - before:
        said = _n(now, label, processing=processing, date=day)
        if table["op"] == "delete":
            text = ngettext(
                "“%(processing)s” stopped on %(date)s: %(n)d record of %(label)s deleted.",
                "“%(processing)s” stopped on %(date)s: %(n)d records of %(label)s deleted.",
                now,
            )
        else:
            text = ngettext(
                "“%(processing)s” stopped on %(date)s: %(n)d record of %(label)s marked so.",
                "“%(processing)s” stopped on %(date)s: %(n)d records of %(label)s marked so.",
                now,
            )
        lines.append(text % said)
    if before:
        dates = ", ".join(date_text(day) for day in already.get("since", ()))
        said = _n(before, label, processing=processing, dates=dates)
        if dates:
            text = ngettext(
                "“%(processing)s” had already stopped on %(dates)s (%(n)d record of %(label)s, "
                "left as it is).",
                "“%(processing)s” had already stopped on %(dates)s (%(n)d records of "
                "%(label)s, left as they are).",
                before,
            )
        else:
            text = ngettext(
                "“%(processing)s” had already stopped when we acted on your request (%(n)d "
                "record of %(label)s, left as it is).",
                "“%(processing)s” had already stopped when we acted on your request (%(n)d "
                "records of %(label)s, left as they are).",
                before,
            )
        lines.append(text % said)
    return lines


def date_text(value: Any) -> str:
    """An ISO date in the active language's words (anything else as it is): the letter's and
    the record's dates alike."""
    try:
        return formats.date_format(dt.date.fromisoformat(str(value)), "DATE_FORMAT")
    except ValueError:
        return str(value)


def _kept_rows(table: dict[str, Any], rows: int) -> list[str]:
    """An erasure's rows kept under a ground: what was erased from them, whether they are marked
    restricted (or why not), why and until when they are kept, and whether a later access
    request finds them."""
    label = table["label"]
    erased = [c for c in table.get("columns", ()) if c["to"] in ("null", "pseudonymise")]
    if erased:
        fields = ", ".join(
            _("%(field)s (replaced by a pseudonym)") % {"field": c.get("label", c["column"])}
            if c["to"] == "pseudonymise"
            else c.get("label", c["column"])
            for c in erased
        )
        lines = [
            ngettext(
                "%(n)d record of %(label)s kept; erased from it: %(fields)s.",
                "%(n)d records of %(label)s kept; erased from them: %(fields)s.",
                rows,
            )
            % _n(rows, label, fields=fields)
        ]
    else:
        lines = [_kept_as_is(rows, label)]
    if table.get("restricted") or table["op"] == "restrict":
        lines.append(
            ngettext(
                "It is marked restricted: used only for the reason it is kept.",
                "They are marked restricted: used only for the reason they are kept.",
                rows,
            )
        )
    elif table.get("via"):
        lines.append(
            ngettext(
                "It is restricted with the %(parent)s record it belongs to.",
                "They are restricted with the %(parent)s records they belong to.",
                rows,
            )
            % {"parent": table["via"].get("label", "")}
        )
    lines += _unmarked(table, rows)
    if kept := _kept(table):
        lines.append(kept)
    lines += _after(table, rows)
    return lines


def _kept_as_is(rows: int, label: str) -> str:
    return ngettext(
        "%(n)d record of %(label)s kept as it is.",
        "%(n)d records of %(label)s kept as they are.",
        rows,
    ) % _n(rows, label)


def _unmarked(table: dict[str, Any], rows: int) -> list[str]:
    """Why a table's rows could not be marked restricted (the file's own words quoted)."""
    unmarked = table.get("unmarked")
    if not unmarked:
        return []
    if unmarked.get("why") == "declared":
        text = ngettext(
            "It could not be marked restricted. Why, in our own words: “%(reason)s”",
            "They could not be marked restricted. Why, in our own words: “%(reason)s”",
            rows,
        )
        return [text % {"reason": unmarked.get("text", "")}]
    if unmarked.get("why") == "parent_erased":
        return [
            ngettext(
                "It could not be marked restricted: the record it was restricted through was "
                "erased.",
                "They could not be marked restricted: the records they were restricted through "
                "were erased.",
                rows,
            )
        ]
    return [
        ngettext(
            "It could not be marked restricted: no way to mark it is set up in this system.",
            "They could not be marked restricted: no way to mark them is set up in this system.",
            rows,
        )
    ]


def _after(table: dict[str, Any], rows: int) -> list[str]:
    """What becomes of kept rows whose link to the subject the erasure cut. Findable: by a later
    request from the same address (``collect.kept_records``), until their retention ends (the
    date the lines above give)."""
    if table.get("after") == "findable":
        return [
            ngettext(
                "If you ask us for access later from the email address of this request, we will "
                "find it by its record number, which we keep for that purpose alone.",
                "If you ask us for access later from the email address of this request, we will "
                "find them by their record numbers, which we keep for that purpose alone.",
                rows,
            )
        ]
    if table.get("after") == "anonymous":
        return [
            ngettext(
                "It no longer identifies you: everything in it that could has been erased.",
                "They no longer identify you: everything in them that could has been erased.",
                rows,
            )
        ]
    return []


def _system(
    case: Case,
    purpose: str,
    entry: dict[str, Any],
    change: Change | None,
    done: list[Change],
) -> list[str]:
    """What happened in one system, line by line: only what was done, said as done. ``entry``
    is the system in the current plan (its dry run: what stays as it is), ``change`` the
    current plan's change there, ``done`` every change done there under any plan."""
    title = entry["title"]
    lines: list[str] = []
    for each in done:
        lines += [line for line in _done(case, purpose, each) if line and line not in lines]
    if change is not None and change.status == ChangeStatus.SKIPPED:
        reason = {"system": title, "reason": change.answer_note}
        if not lines:
            return [_("%(system)s: not changed. Reason: %(reason)s") % reason]
        lines.append(_("Not changed again under the new plan. Reason: %(reason)s") % reason)
    if "tables" in entry:
        unchanged = 0
        for table in entry["tables"]:
            rows = table.get("rows", 0)
            if not rows or table["op"] not in ("none", "keep"):
                continue  # what a change did is said above, from the change's own record
            if purpose == Right.RESTRICTION and "unmarked" not in table:
                # A plan made before tables said why (op "none"): no way was declared.
                table = {**table, "unmarked": {"why": "undeclared"}}
            if table["op"] == "keep" or table.get("unmarked"):
                # Kept as it is: under a ground (erasure), or because its rows cannot be
                # marked restricted (said, with the reason, not hidden).
                lines.append(_kept_as_is(rows, table["label"]))
                lines += _unmarked(table, rows)
                if kept := _kept(table):
                    lines.append(kept)
            else:
                unchanged += rows
        if unchanged:
            lines.append(
                ngettext(
                    "%(n)d record about you is not concerned and stays as it is.",
                    "%(n)d records about you are not concerned and stay as they are.",
                    unchanged,
                )
                % {"n": unchanged}
            )
        if not lines:
            lines.append(_("Nothing about you was found here."))
    return [f"{title}:", *lines]


def paragraphs(case: Case, plan: Plan) -> list[str]:
    """The letter, paragraph by paragraph, in the subject's language."""
    with translation.override(case.language):
        current = {e.system_name: e for e in plan.changes.all()}
        done: dict[str, list[Change]] = defaultdict(list)
        for change in done_changes(case, plan.purpose):
            done[change.system_name].append(change)
        company = case.controller.legal_name
        if plan.purpose == Right.RESTRICTION:
            out = _restriction_opening(plan, done, company)
        elif any(effect(e) for changes in done.values() for e in changes):
            out = [_opening(plan.purpose, company)]
        else:
            out = [_("%(company)s has handled your request as follows.") % {"company": company}]
        if not plan.body["systems"] and not done:
            out.append(_("None of our systems is concerned by this request."))
        named = set()
        for entry in plan.body["systems"]:
            named.add(entry["system"])
            lines = _system(
                case, plan.purpose, entry, current.get(entry["system"]), done[entry["system"]]
            )
            out.append("\n".join(lines))
        # A system changed under a replaced plan that the current plan no longer names.
        for name, changes in done.items():
            if name not in named and changes:
                entry = {"title": changes[0].system_title}
                out.append("\n".join(_system(case, plan.purpose, entry, None, changes)))
        corrected = []
        for change in (e for changes in done.values() for e in changes):
            for c in change.plan.body.get("corrections", ()):
                if c["system"] == change.system_name and c not in corrected:
                    corrected.append(c)
        if corrected:
            out.append(
                "\n".join(
                    [_("Corrected:")]
                    + [f"- {c.get('label', c['column'])}: {c['value']}" for c in corrected]
                )
            )
        out += recipients(plan)
        # Only where something was restricted: a manual owner who found nothing, or a table
        # with none of the subject's rows, restricted nothing that could be lifted.
        if plan.purpose == Right.RESTRICTION and any(
            effect(e) for changes in done.values() for e in changes
        ):
            out.append(
                _("Before the restriction is lifted, %(company)s will tell you (Art. 18(3) GDPR).")
                % {"company": company}
            )
        if any("“" in paragraph for paragraph in out):
            out.append(_("Text in quotation marks is our own description, quoted as we wrote it."))
        authority = case.controller.supervisory_authority
        out.append(
            _(
                "If you disagree, you can complain to the supervisory authority, %(authority)s "
                "(%(url)s), and you can go to court."
            )
            % {"authority": authority.name, "url": authority.complaint_url}
        )
        return out


def send_letter(case: Case, plan: Plan | None, *, now: dt.datetime) -> None:
    """Write the completion letter of the approved ``plan`` and mail it, in the transaction of
    the step that sends the response: kept as a message to the subject and in the record.
    Without an approved plan (no systems declared) the response's own text is the answer."""
    if plan is None or plan.status != PlanStatus.APPROVED:
        return
    text = paragraphs(case, plan)
    letter = "\n\n".join(text)
    Message.objects.create(
        case=case, direction=Direction.TO_SUBJECT, body=letter, author=None, created_at=now
    )
    note(case, actor=Actor.system(), action="completion_letter", at=now, data={"letter": letter})
    # The letter is the decision as much as the response's own mail: it is communicated once
    # both have left (cases.mail).
    queue_mail(
        case, "change_report", carries=Carries.DECISION, at=now, letter=letter, paragraphs=text
    )


def announce_lift(case: Case, *, reason: str, message: str, now: dt.datetime) -> None:
    """Tell the subject that the restriction will be lifted, why, and from which day: the
    lifting's changes start after the same notice period (``execute.approve``)."""
    lift_on = now + dt.timedelta(days=settings.RESTRICTION_LIFT_NOTICE_DAYS)
    queue_mail(
        case,
        "lift_notice",
        # It asks the subject to answer before the lifting: the answer goes to the
        # controller's privacy address (mail in brings it to the case).
        reply_to_controller=True,
        at=now,
        lift_on=lift_on.date().isoformat(),
        reason=reason,
        message=message,
    )


def _listed(heading: str, lines: list[str]) -> list[str]:
    return ["\n".join([heading, *lines])] if lines else []


def _quoted(notice: Any) -> str:
    """A recipient, with the reason in the words of whoever gave it (the controller's systems
    file, or the officer), quoted as such: it is theirs, in their language."""
    if not notice.note:
        return f"- {notice.recipient}"
    return f"- {notice.recipient}: " + _("in our words: “%(reason)s”") % {"reason": notice.note}


def _told(notice: Any) -> str:
    """A recipient that was told, and how: through the request made to its processor's system,
    by mail (to its address), or another way (the officer recorded how: in the record)."""
    how = notice.how
    if how == "system":
        return f"- {notice.recipient}: " + _("through the request we made to its system")
    if how == "email":
        return f"- {notice.recipient}: " + _("by mail to %(address)s") % {
            "address": notice.address or (notice.mail.to if notice.mail else "")
        }
    if how == "other":
        return f"- {notice.recipient}: " + _("another way")
    return f"- {notice.recipient}"


def recipients(plan: Plan) -> list[str]:
    """The letter's paragraphs on the recipients of the subject's data (Art. 19; C-154/21:
    named), in the active language: who was told, and how; to whom none of the subject's data
    was disclosed; who was not told because nothing of what they received changed; and who
    was not told under an exception, with the reason quoted. Every sentence is ours, in the
    subject's language; only a quoted reason is someone's own words.

    Each recipient is named once, with its one reason: nothing to tell wins over an exception
    declared for it (``execute.settle`` records only the one; a notice recorded before it did
    is read the same way). Art. 19 is cited only for the rights it covers (rectification,
    erasure, restriction, and the lifting of a restriction): an objection's or a withdrawal's
    recipients are told because a processor must stop what the controller stopped (Art.
    28(3)) and what was deleted is an erasure (Art. 17(1)(b)-(c)), which the letter does not
    cite article by article."""
    notices = list(plan.notices.select_related("mail"))
    cites = plan.purpose not in (Right.OBJECTION, Right.WITHDRAW_CONSENT)
    out: list[str] = []
    out += _listed(
        _("We told these recipients of your data (Art. 19 GDPR):")
        if cites
        else _("We told these recipients of your data:"),
        [_told(n) for n in notices if n.told],
    )
    out += _listed(
        _(
            "None of your data were disclosed to these recipients, so there was nothing to tell "
            "them:"
        ),
        [f"- {n.recipient}" for n in notices if n.status == NoticeStatus.NOT_DISCLOSED],
    )
    untold = [n for n in notices if n.status == NoticeStatus.UNREACHABLE]
    said = {NOTHING_CHANGED, NOTHING_OF_THEIRS}
    out += _listed(
        _(
            "These recipients were not told, because none of our systems changed, or reported "
            "changing, any of your data: there was nothing to tell them."
        ),
        [f"- {n.recipient}" for n in untold if n.reason == NOTHING_CHANGED],
    )
    out += _listed(
        _(
            "These recipients were not told, because none of the data of yours that we "
            "disclosed to them was changed:"
        ),
        [f"- {n.recipient}" for n in untold if n.reason == NOTHING_OF_THEIRS],
    )
    excepted = [n for n in untold if n.reason not in said]
    out += _listed(
        _("These recipients were not told, because telling them proved impossible (Art. 19 GDPR):")
        if cites
        else _("These recipients were not told, because telling them proved impossible:"),
        [_quoted(n) for n in excepted if n.exception == NoticeException.IMPOSSIBLE],
    )
    out += _listed(
        _(
            "These recipients were not told, because telling them would involve a "
            "disproportionate effort (Art. 19 GDPR):"
        )
        if cites
        else _(
            "These recipients were not told, because telling them would involve a "
            "disproportionate effort:"
        ),
        [_quoted(n) for n in excepted if n.exception == NoticeException.DISPROPORTIONATE],
    )
    # Notices recorded before these reasons existed (their reason is kept as it was written).
    out += _listed(
        _("These recipients were not told, for the reason given:"),
        [
            f"- {n.recipient}: {_(n.reason) if n.reason else '—'}"
            for n in excepted
            if not n.exception
        ],
    )
    return out
