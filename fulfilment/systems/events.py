"""The words of fulfilment's events that both rooms write (``cases.events``): a system, its
rows and files, an error and its tries. Each room declares its own events beside its code
(``searches.events``, ``changes.events``); ``fulfilment.hooks`` registers them together."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def rows_text(value: Any, tz: Any) -> str:
    """Counts by table (or system), in one line; an empty count says nothing was found."""
    if not isinstance(value, dict):
        return str(value)
    return "; ".join(f"{name}: {count}" for name, count in value.items()) or _("nothing found")


RENDERERS = {
    "systems": lambda v, tz: _("Systems: %(list)s") % {"list": ", ".join(map(str, v))},
    "identities": lambda v, tz: _("Searched by: %(list)s") % {"list": ", ".join(map(str, v))},
    "system": lambda v, tz: _("System: %(name)s") % {"name": v},
    "request": lambda v, tz: _("Request at the processor: %(id)s") % {"id": v},
    "rows": lambda v, tz: _("Records: %(rows)s") % {"rows": rows_text(v, tz)},
    "files": lambda v, tz: ngettext("%(n)d file", "%(n)d files", int(v)) % {"n": int(v)},
    "warnings": lambda v, tz: _("Warnings: %(list)s") % {"list": "; ".join(map(str, v))},
    "error": lambda v, tz: _("Error: %(error)s") % {"error": v},
    "attempts": lambda v, tz: _("after %(n)s tries") % {"n": v},
    "found": lambda v, tz: _("Found: %(answer)s") % {"answer": _("yes") if v else _("nothing")},
    "note": lambda v, tz: _("Note: %(text)s") % {"text": v},
    "table": lambda v, tz: _("Table: %(name)s") % {"name": v},
    "record": lambda v, tz: _("Record: %(key)s") % {"key": v} if v else _("Every record"),
    "column": lambda v, tz: _("Field: %(name)s") % {"name": v} if v else _("Every field"),
    "sha256": lambda v, tz: f"SHA-256 {v}",
    "processor": lambda v, tz: _("The processor reports: %(status)s") % {"status": v},
    "confirmed": lambda v, tz: _("Confirmed: %(text)s") % {"text": v},
    "state": lambda v, tz: _("Request: %(state)s") % {"state": v},
}
