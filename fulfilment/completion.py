"""The completion letter of a right that changed data: what was erased (or restricted, corrected,
stopped), what was kept, on which legal ground and until when, which recipients were told and
which could not be, and the right to complain. Written in the subject's language from the
approved plan and what the executions recorded, when the officer sends the response; the text
is kept in the case (a message to the subject, and the event the chain covers).

What was done is read from every done execution of the request's plans, the current one and
any it replaced: a system erased under a first plan is said erased, though the second plan's
dry run found nothing left there. What stays as it is comes from the current plan's dry run.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from cases.models import Case
from controllers.models import Right, SystemKind

from .models import Execution, ExecutionStatus, NoticeStatus, Plan

# Why a recipient was not told (Art. 19): kept in the record in English (``Notice.reason``),
# read in the reader's language.
NOTHING_CHANGED = gettext_noop(
    "no system changed, or reported changing, any of the subject's data: there was nothing to tell"
)

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


def done_executions(case: Case, purpose: str) -> list[Execution]:
    """Every change done for this request and purpose, under its current plan or one that plan
    replaced, oldest first."""
    return list(
        Execution.objects.filter(case=case, plan__purpose=purpose, status=ExecutionStatus.DONE)
        .select_related("plan", "answered_by")
        .order_by("pk")
    )


def effect(execution: Execution) -> bool:
    """Whether a done change is known to have changed the subject's data (what recipients are
    told of, and what the letter's opening claims):

    - SQL: a table the plan changes had rows of the subject; for an erasure, marking kept rows
      restricted is not an erasure, and does not count;
    - manual: the owner reported the subject's data there and did as asked; for an erasure, a
      task to keep (and restrict) erases nothing, and does not count;
    - HTTP: never. A processor reports that it completed the request, not whether it held any
      of the subject's data.
    """
    purpose = execution.plan.purpose
    entry = execution.entry
    if execution.kind == SystemKind.SQL:
        ops = {t["table"]: t["op"] for t in entry.get("tables", ())}
        return any(
            rows and not (purpose == Right.ERASURE and ops.get(table) == "restrict")
            for table, rows in execution.counts.items()
        )
    if execution.kind == SystemKind.MANUAL:
        # None: confirmed before the owner's answer was asked for, as done.
        kept = purpose == Right.ERASURE and entry.get("task") == "keep"
        return execution.found is not False and not kept
    return False


def changed(case: Case, purpose: str) -> bool:
    """Whether any change of this request (under any of its plans) changed the subject's data."""
    return any(effect(e) for e in done_executions(case, purpose))


def _day(case: Case, execution: Execution) -> str:
    moment = execution.finished_at or execution.answered_at
    if moment is None:
        return "—"
    zone = ZoneInfo(case.controller.time_zone)
    return formats.date_format(timezone.localtime(moment, zone), "DATE_FORMAT")


def _done(case: Case, purpose: str, execution: Execution) -> list[str]:
    """What one done change did, line by line, said as what it is."""
    entry = execution.entry
    if execution.kind == SystemKind.SQL:
        lines = []
        for table in entry.get("tables", ()):
            rows = execution.counts.get(table["table"], 0)
            if rows and table["op"] in _DONE:
                label = table["label"]
                lines.append(_DONE[table["op"]](rows, label) % {"n": rows, "label": label})
                if kept := _kept(table):
                    lines.append(kept)
        return lines
    day = {"date": _day(case, execution)}
    if execution.kind == SystemKind.HTTP:
        return [
            _(
                "Our processor was asked to act on your request and reported it completed on "
                "%(date)s."
            )
            % day
        ]
    if execution.found is False:
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
    return [_("Done by the department that keeps it (confirmed on %(date)s).") % day]


def _system(
    case: Case,
    purpose: str,
    entry: dict[str, Any],
    execution: Execution | None,
    done: list[Execution],
) -> list[str]:
    """What happened in one system, line by line: only what was done, said as done. ``entry``
    is the system in the current plan (its dry run: what stays as it is), ``execution`` the
    current plan's change there, ``done`` every change done there under any plan."""
    title = entry["title"]
    lines: list[str] = []
    for each in done:
        lines += [line for line in _done(case, purpose, each) if line and line not in lines]
    if execution is not None and execution.status == ExecutionStatus.SKIPPED:
        reason = {"system": title, "reason": execution.answer_note}
        if not lines:
            return [_("%(system)s: not changed. Reason: %(reason)s") % reason]
        lines.append(_("Not changed again under the new plan. Reason: %(reason)s") % reason)
    if "tables" in entry:
        unchanged = 0
        for table in entry["tables"]:
            rows = table.get("rows", 0)
            if not rows or table["op"] in _DONE:
                continue  # what a change did is said above, from the change's own record
            if table["op"] == "keep" or purpose in (Right.ERASURE, Right.RESTRICTION):
                # Kept as it is: under a ground (erasure), or because the system declares no
                # way to mark it (a restriction it cannot carry out: said, not hidden).
                lines.append(
                    ngettext(
                        "%(n)d record of %(label)s kept as it is.",
                        "%(n)d records of %(label)s kept as they are.",
                        rows,
                    )
                    % {"n": rows, "label": table["label"]}
                )
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
        current = {e.system_name: e for e in plan.executions.all()}
        done: dict[str, list[Execution]] = defaultdict(list)
        for execution in done_executions(case, plan.purpose):
            done[execution.system_name].append(execution)
        company = case.controller.legal_name
        if any(effect(e) for executions in done.values() for e in executions):
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
        for name, executions in done.items():
            if name not in named and executions:
                entry = {"title": executions[0].system_title}
                out.append("\n".join(_system(case, plan.purpose, entry, None, executions)))
        corrected = []
        for execution in (e for executions in done.values() for e in executions):
            for c in execution.plan.body.get("corrections", ()):
                if c["system"] == execution.system_name and c not in corrected:
                    corrected.append(c)
        if corrected:
            out.append(
                "\n".join(
                    [_("Corrected:")]
                    + [f"- {c.get('label', c['column'])}: {c['value']}" for c in corrected]
                )
            )
        notices = list(plan.notices.all())
        told = [n for n in notices if n.status in (NoticeStatus.SENT, NoticeStatus.ANSWERED)]
        untold = [n for n in notices if n.status == NoticeStatus.UNREACHABLE]
        if told:
            out.append(
                "\n".join(
                    [_("We told these recipients of your data (Art. 19 GDPR):")]
                    + [f"- {n.recipient}" for n in told]
                )
            )
        nothing = [n for n in untold if n.reason == NOTHING_CHANGED]
        if nothing:
            out.append(
                "\n".join(
                    [
                        _(
                            "These recipients were not told, because none of our systems "
                            "changed, or reported changing, any of your data: there was "
                            "nothing to tell them."
                        )
                    ]
                    + [f"- {n.recipient}" for n in nothing]
                )
            )
        others = [n for n in untold if n.reason != NOTHING_CHANGED]
        if others:
            out.append(
                "\n".join(
                    [_("These recipients were not told, for the reason given:")]
                    + [f"- {n.recipient}: {_(n.reason) if n.reason else '—'}" for n in others]
                )
            )
        authority = case.controller.supervisory_authority
        out.append(
            _(
                "If you disagree, you can complain to the supervisory authority, %(authority)s "
                "(%(url)s), and you can go to court."
            )
            % {"authority": authority.name, "url": authority.complaint_url}
        )
        return out
