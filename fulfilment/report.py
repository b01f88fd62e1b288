"""Fulfilment's evidence in the auditor's case report (registered through
``cases.extensions.add_report_section``): what was searched and found, the package and its
hashes and downloads, each plan of changes (a replaced one too), what each system did and how
that was established (searched again, confirmed by an officer, reported by the processor), and
the Art. 19 notices. Counts, hashes and reasons only: never the subject's data."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from cases.models import Case

from .changes.events import (
    already_words,
    describe_change,
    entry_words,
    purpose_words,
    told_how,
    unmarked_words,
)
from .changes.execute import evidence
from .changes.plans import to_change
from .models import ChangeStatus, Notice, SearchStatus


def _when(value: Any) -> str:
    return date_format(localtime(value), "j F Y H:i") if value else "—"


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name}: {n}" for name, n in counts.items()) or _("nothing found")


def sections(case: Case) -> list[tuple[str, list[str]]]:
    # The small words, translated here: xgettext does not look inside the f-strings below.
    said_files, said_built, said_released = _("files"), _("built"), _("released")
    said_downloads, said_manifest, said_made = _("downloads"), _("manifest"), _("made")
    said_approved_by, said_task = _("approved by"), _("task")
    found: list[tuple[str, list[str]]] = []
    searches = list(case.searches.all())
    if searches:
        found.append(
            (
                _("Systems searched"),
                [
                    f"{c.system_title}: {c.get_status_display()}"
                    + (f" · {c.remote_label}" if c.remote_label else "")
                    # What a search found only once it found it: a failed or skipped one
                    # found nothing only in the sense that it did not look.
                    + (f" · {_counts(c.counts)}" if c.status == SearchStatus.DONE else "")
                    + (f" · {said_files}: {c.file_count}" if c.file_count else "")
                    + (f" · {c.error}" if c.error else "")
                    + (f" · {c.answer_note}" if c.answer_note else "")
                    for c in searches
                ],
            )
        )
    withheld = list(case.withholdings.all())
    if withheld:
        found.append(
            (
                _("Withheld from the subject"),
                [
                    f"{w.system_name}/{w.table}/{w.record or '*'}/{w.column or '*'}: {w.reason}"
                    for w in withheld
                ],
            )
        )
    packages = list(case.packages.all())
    if packages:
        found.append(
            (
                _("Data package"),
                [
                    f"{p.kind}: {p.get_status_display()} · {said_built} {_when(p.built_at)}"
                    f" · {said_released} {_when(p.released_at)} · {said_downloads}: {p.downloads}"
                    f" · SHA-256 {p.sha256 or '—'} · {said_manifest} {p.manifest_sha256 or '—'}"
                    for p in packages
                ],
            )
        )
    for plan in case.plans.order_by("pk"):
        lines = [
            f"{plan.get_status_display()} · SHA-256 {plan.sha256}"
            f" · {said_made} {_when(plan.made_at)}"
            + (
                f" · {said_approved_by} {plan.approved_by} {_when(plan.approved_at)}"
                if plan.approved_at
                else ""
            )
        ]
        for entry in plan.body["systems"]:
            if "tables" in entry:
                parts = [
                    # The rows it changes; those stopped already said apart, never as changed.
                    f"{t['label']} {entry_words(t, plan.purpose)} {to_change(t)}"
                    + (f" ({already_words(t['already'])})" if t.get("already") else "")
                    + (f" ({unmarked_words(t['unmarked'])})" if t.get("unmarked") else "")
                    + (
                        f" ({t['keep_ground']}; {t.get('keep_until') or '—'})"
                        if t.get("keep_ground")
                        else ""
                    )
                    for t in entry["tables"]
                    if t["op"] != "none" or t.get("rows")
                ]
                lines.append(f"{entry['title']}: " + ("; ".join(parts) or "—"))
            else:
                lines.append(f"{entry['title']}: {said_task} {entry.get('task', '')}")
            if entry.get("done_under"):
                lines.append(
                    f"{entry['title']}: "
                    + _("done under the plan it replaces (SHA-256 %(hash)s)")
                    % {"hash": entry["done_under"]}
                )
        zone = timezone.get_current_timezone()
        for change in plan.changes.select_related("plan", "answered_by"):
            if change.status == ChangeStatus.DONE:
                # How it was established, by kind: the event's own words.
                detail = describe_change(evidence(change), zone, heading=False)
            else:
                detail = [x for x in (change.remote_label, change.error, change.answer_note) if x]
            lines.append(
                f"{change.system_title}: {change.get_status_display()}"
                f" {_when(change.finished_at)}" + "".join(f" · {line}" for line in detail)
            )
        found.append(
            (_("Plan of changes: %(purpose)s") % {"purpose": purpose_words(plan.purpose)}, lines)
        )
        notices = list(plan.notices.select_related("mail", "decided_by"))
        if notices:
            titles = {s["system"]: s["title"] for s in plan.body["systems"]}
            found.append((_("Recipients (Art. 19)"), [_notice(n, titles) for n in notices]))
    return found


def _notice(notice: Notice, titles: dict[str, str]) -> str:
    """One recipient as the record keeps it: told and how (through its processor's request, by
    mail to an address with the mail's delivery, another way), not told under which exception
    in whose words, none of the subject's data disclosed to it, or nothing to tell; who
    decided and when; its answer. An address is named only where a mail went to it."""
    said_mail, said_answer = _("mail"), _("answer")
    parts = [f"{notice.recipient}: {notice.get_status_display()}"]
    if notice.exception:
        parts.append(notice.get_exception_display())
    if how := told_how(notice, titles):
        parts.append(how)
    elif notice.mail:
        # Being mailed, or back to the officer after it did not arrive.
        parts.append(_("by mail to %(address)s") % {"address": notice.mail.to})
    if notice.mail:
        parts.append(
            f"{said_mail} {notice.mail.get_status_display()} {notice.mail.delivery_status}".strip()
        )
    if notice.reason:
        parts.append(_(notice.reason))
    if notice.note:
        parts.append(f"“{notice.note}”")
    if notice.decided_by:
        parts.append(
            _("decided by %(officer)s %(when)s")
            % {"officer": notice.decided_by, "when": _when(notice.decided_at)}
        )
    if notice.answer:
        parts.append(f"{said_answer}: {notice.answer}")
    return " · ".join(parts)
