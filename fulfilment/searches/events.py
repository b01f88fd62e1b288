"""The events of a search, a package and the access letter (``cases.events``): their names, how
the data keys only they write read, and the one read as a whole (an item of the letter).

Names of events are never rewritten: an event's action is part of what its hash covers, so a
record written before the models took the UI's words (issue 22) keeps its old name, and the
chain verifier checks it as written. New records take the new name; each old name stays
declared (``RENAMED``) with the words of the new one, so every reader of the trail (the case
page, the case report, the compliance report) reads both alike. The line that names them is
marked ``rename:keep``: issue 22's renaming script leaves such lines as they are."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..systems.events import rows_text
from . import letter

EVENT_TYPES = {
    "search_started": gettext_lazy("Search of the controller's systems started"),
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
    # Where the statement is silent on an item of the access letter, the officer's words.
    "letter_item_supplied": gettext_lazy("Item of the access letter supplied by the officer"),
    # Recorded when the subject asks for it; the mail that carries it shows when it left.
    "download_code_sent": gettext_lazy("Download code asked for by the subject"),
    "package_downloaded": gettext_lazy("Data package downloaded"),
    "package_revoked": gettext_lazy("Download link withdrawn"),
    "package_exported": gettext_lazy("Data package written to a file by an operator"),
    "package_viewed": gettext_lazy("Data package downloaded by an officer"),
    "package_expired": gettext_lazy("Download link expired; package deleted"),
}

# The names of old records: each reads as the event that took its place.
RENAMED = {"collection_started": "search_started"}  # rename:keep
EVENT_TYPES.update({old: EVENT_TYPES[new] for old, new in RENAMED.items()})


RENDERERS = {
    "file": lambda v, tz: _("Export file: %(name)s") % {"name": v},
    "size": lambda v, tz: _("%(n)s bytes") % {"n": v},
    "package": lambda v, tz: _("Package: %(kind)s") % {"kind": v},
    "manifest": lambda v, tz: _("Manifest SHA-256 %(hash)s") % {"hash": v},
    "withheld": lambda v, tz: _("Withheld: %(n)s part(s)") % {"n": len(v)},
    "expires": lambda v, tz: _("Link valid until %(when)s") % {"when": v},
    "kept_keys": lambda v, tz: (
        _("Also searched by the keys of records kept after an erasure: %(list)s")
        % {"list": "; ".join(f"{system} ({rows_text(tables, tz)})" for system, tables in v.items())}
    ),
}


def describe_supplied(data: dict[str, Any], tz: Any) -> list[str]:
    """An item of the access letter the officer supplied: what, the answer, whether kept."""
    answer = _("Answer: none") if data.get("answer") == letter.NONE else _("Text: %(text)s") % data
    return [
        _("Item: %(item)s") % {"item": data["item"]},
        answer,
        _("Kept for the controller's next requests") if data.get("reuse") else "",
    ]


DESCRIBERS = {"letter_item_supplied": describe_supplied}
