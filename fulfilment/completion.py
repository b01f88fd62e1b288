"""The completion letter of a right that changed data: what was erased (or restricted, corrected,
stopped), what was kept, on which legal ground and until when, which recipients were told and
which could not be, and the right to complain. Written in the subject's language from the
approved plan and what its executions recorded, when the officer sends the response; the text
is kept in the case (a message to the subject, and the event the chain covers).
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cases.models import Case
from controllers.models import Right

from .models import ExecutionStatus, Plan

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


def _system(purpose: str, entry: dict[str, Any], status: str, note: str) -> list[str]:
    """What happened in one system, line by line: only what was done, said as done."""
    title = entry["title"]
    if status == ExecutionStatus.SKIPPED:
        return [
            _("%(system)s: not changed. Reason: %(reason)s") % {"system": title, "reason": note}
        ]
    lines, unchanged = [], 0
    if "tables" in entry:
        for table in entry["tables"]:
            rows = table.get("rows", 0)
            if not rows:
                continue
            if table["op"] in _DONE:
                lines.append(
                    _DONE[table["op"]](rows, table["label"]) % {"n": rows, "label": table["label"]}
                )
            elif table["op"] == "keep" or purpose in (Right.ERASURE, Right.RESTRICTION):
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
            else:
                unchanged += rows
                continue
            if kept := _kept(table):
                lines.append(kept)
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
    elif entry["kind"] == "http":
        lines.append(_("Our processor was asked to do the same and confirmed it."))
    elif entry.get("task") == "keep":
        lines.append(_("Kept and restricted: used only for the reason below."))
        lines.append(_kept(entry))
    elif entry.get("task") == "delete":
        lines.append(_("Deleted by the department that keeps it."))
    else:
        lines.append(_("Done by the department that keeps it."))
    return [f"{title}:", *lines]


def changed(plan: Plan) -> bool:
    """Whether any system was changed (or a processor or an owner did what was asked)."""
    return any(
        e.status == ExecutionStatus.DONE and (e.kind != "sql" or any(e.counts.values()))
        for e in plan.executions.all()
    )


def paragraphs(case: Case, plan: Plan) -> list[str]:
    """The letter, paragraph by paragraph, in the subject's language."""
    with translation.override(case.language):
        executions = {e.system_name: e for e in plan.executions.all()}
        company = case.controller.legal_name
        if changed(plan):
            out = [_opening(plan.purpose, company)]
        else:
            out = [_("%(company)s has handled your request as follows.") % {"company": company}]
        if not plan.body["systems"]:
            out.append(_("None of our systems is concerned by this request."))
        done = set()
        for entry in plan.body["systems"]:
            execution = executions.get(entry["system"])
            status = execution.status if execution else ExecutionStatus.DONE
            if status == ExecutionStatus.DONE:
                done.add(entry["system"])
            reason = execution.answer_note if execution else ""
            out.append("\n".join(_system(plan.purpose, entry, status, reason)))
        corrected = [c for c in plan.body.get("corrections", ()) if c["system"] in done]
        if corrected:
            out.append(
                "\n".join(
                    [_("Corrected:")]
                    + [f"- {c.get('label', c['column'])}: {c['value']}" for c in corrected]
                )
            )
        told = [n for n in plan.notices.all() if n.status in ("sent", "answered")]
        untold = [n for n in plan.notices.all() if n.status == "unreachable"]
        if told:
            out.append(
                "\n".join(
                    [_("We told these recipients of your data (Art. 19 GDPR):")]
                    + [f"- {n.recipient}" for n in told]
                )
            )
        if untold:
            out.append(
                "\n".join(
                    [_("These recipients were not told, for the reason given:")]
                    + [f"- {n.recipient}: {n.reason}" for n in untold]
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
