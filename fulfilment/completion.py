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


def _system(entry: dict[str, Any], status: str, note: str) -> list[str]:
    title = entry["title"]
    if status == ExecutionStatus.SKIPPED:
        return [
            _("%(system)s: not changed. Reason: %(reason)s") % {"system": title, "reason": note}
        ]
    lines = []
    if "tables" in entry:
        for table in entry["tables"]:
            rows = table.get("rows", 0)
            if table["op"] in _DONE and rows:
                lines.append(
                    _DONE[table["op"]](rows, table["label"]) % {"n": rows, "label": table["label"]}
                )
            elif table["op"] == "keep" and rows:
                lines.append(
                    ngettext(
                        "%(n)d record of %(label)s kept.", "%(n)d records of %(label)s kept.", rows
                    )
                    % {"n": rows, "label": table["label"]}
                )
            if rows and (kept := _kept(table)):
                lines.append(kept)
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


def paragraphs(case: Case, plan: Plan) -> list[str]:
    """The letter, paragraph by paragraph, in the subject's language."""
    with translation.override(case.language):
        executions = {e.system_name: e for e in plan.executions.all()}
        out = [_opening(plan.purpose, case.controller.legal_name)]
        if not plan.body["systems"]:
            out.append(_("None of our systems holds data of yours that this concerns."))
        for entry in plan.body["systems"]:
            execution = executions.get(entry["system"])
            status = execution.status if execution else ExecutionStatus.DONE
            out.append(
                "\n".join(_system(entry, status, execution.answer_note if execution else ""))
            )
        if plan.purpose == Right.RECTIFICATION:
            out.append(
                "\n".join(
                    [_("Corrected:")]
                    + [f"- {c['column']}: {c['value']}" for c in plan.body.get("corrections", ())]
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
