"""How fulfilment joins a case's steps (through ``cases.extensions``), and the events it writes.

- Identity settled on an access or portability request (the case enters "in progress"): the
  searches start, in the same transaction.
- A case with no searches (its controller declares no systems) is answered by text, as before.
- "Prepare the response" waits until every search is settled (done, or skipped with a reason),
  then asks for the package to be built; "reopen" discards an unreleased package.
- "Approve and send" (complete) waits for the package, and releases it to the subject.
- Once a case has ended, what the searches copied is deleted (the package keeps what the subject
  gets, until its link expires).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cases.models import FINAL_STATES, Case, State

from .collect import DATA_RIGHTS, discard_staging, start
from .models import PackageStatus
from .package import package_of, release, request_build, supersede


def on_checking(sender: Any, *, case: Case, step: str, **kwargs: Any) -> None:
    if case.right not in DATA_RIGHTS:
        return
    # A case without searches (its controller declared no systems when its identity was
    # settled) is answered by text alone, as before fulfilment existed.
    if not case.collections.exists():
        return
    if step == "prepare_response":
        waiting = [c.system_title for c in case.collections.all() if not c.settled]
        if waiting:
            raise ValidationError(
                _(
                    "Not every system has been searched: %(systems)s. Wait for it, try it "
                    "again, answer it by hand, or skip it with a reason."
                )
                % {"systems": ", ".join(waiting)}
            )
    if step == "complete":
        package = package_of(case)
        if package is None or package.status == PackageStatus.BUILDING:
            raise ValidationError(_("The data package is still being built."))
        if package.status != PackageStatus.READY:
            raise ValidationError(
                _("The data package could not be built: %(error)s. Reopen and prepare again.")
                % {"error": package.error or package.get_status_display()}
            )


def on_taken(sender: Any, *, case: Case, step: str, source: str, **kwargs: Any) -> None:
    if case.right in DATA_RIGHTS:
        if case.state == State.IN_PROGRESS:
            start(case)  # once: it does nothing when the searches exist
        if step == "prepare_response" and case.collections.exists():
            request_build(case)
        elif step == "reopen":
            supersede(case)
        elif step == "complete":
            release(case, timezone.now())
    if case.state in FINAL_STATES and source not in FINAL_STATES:
        if case.state != State.COMPLETED:
            supersede(case)
        discard_staging(case)


def _rows(value: Any, tz: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    return "; ".join(f"{name}: {count}" for name, count in value.items()) or _("nothing found")


EVENT_TYPES = {
    "collection_started": gettext_lazy("Search of the controller's systems started"),
    "system_asked": gettext_lazy("Processor asked for the subject's data"),
    "system_searched": gettext_lazy("System searched"),
    "system_failed": gettext_lazy("Search of a system failed"),
    "system_retried": gettext_lazy("Search of a system tried again"),
    "system_skipped": gettext_lazy("System skipped"),
    "manual_answered": gettext_lazy("Manual search answered"),
    "withheld": gettext_lazy("Part of the data withheld"),
    "package_built": gettext_lazy("Data package built"),
    "package_failed": gettext_lazy("Data package could not be built"),
    "package_released": gettext_lazy("Data package released to the subject"),
    "download_code_sent": gettext_lazy("Download code sent to the subject"),
    "package_downloaded": gettext_lazy("Data package downloaded"),
    "package_revoked": gettext_lazy("Download link withdrawn"),
    "package_exported": gettext_lazy("Data package written to a file by an operator"),
    "package_viewed": gettext_lazy("Data package downloaded by an officer"),
    "package_expired": gettext_lazy("Download link expired; package deleted"),
}

RENDERERS = {
    "systems": lambda v, tz: _("Systems: %(list)s") % {"list": ", ".join(map(str, v))},
    "identities": lambda v, tz: _("Searched by: %(list)s") % {"list": ", ".join(map(str, v))},
    "system": lambda v, tz: _("System: %(name)s") % {"name": v},
    "request": lambda v, tz: _("Request at the processor: %(id)s") % {"id": v},
    "rows": lambda v, tz: _("Records: %(rows)s") % {"rows": _rows(v, tz)},
    "files": lambda v, tz: ngettext("%(n)d file", "%(n)d files", int(v)) % {"n": int(v)},
    "warnings": lambda v, tz: _("Warnings: %(list)s") % {"list": "; ".join(map(str, v))},
    "error": lambda v, tz: _("Error: %(error)s") % {"error": v},
    "attempts": lambda v, tz: _("after %(n)s tries") % {"n": v},
    "found": lambda v, tz: _("Found: %(answer)s") % {"answer": _("yes") if v else _("nothing")},
    "file": lambda v, tz: _("Export file: %(name)s") % {"name": v},
    "size": lambda v, tz: _("%(n)s bytes") % {"n": v},
    "note": lambda v, tz: _("Note: %(text)s") % {"text": v},
    "table": lambda v, tz: _("Table: %(name)s") % {"name": v},
    "record": lambda v, tz: _("Record: %(key)s") % {"key": v} if v else _("Every record"),
    "column": lambda v, tz: _("Field: %(name)s") % {"name": v} if v else _("Every field"),
    "package": lambda v, tz: _("Package: %(kind)s") % {"kind": v},
    "sha256": lambda v, tz: f"SHA-256 {v}",
    "manifest": lambda v, tz: _("Manifest SHA-256 %(hash)s") % {"hash": v},
    "withheld": lambda v, tz: _("Withheld: %(n)s part(s)") % {"n": len(v)},
    "expires": lambda v, tz: _("Link valid until %(when)s") % {"when": v},
}
