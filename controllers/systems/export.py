"""Writing a controller's systems back in the canonical form of the format, from where the
declaration in ``format`` says each key is kept: ``load → export`` is byte for byte."""

from __future__ import annotations

from typing import Any

import tomli_w

from ..models import Controller
from ..policy import normalise
from .format import FILE, Key, canonical, schema_of
from .rules import SCHEMA_VERSION


def systems_data(controller: Controller) -> dict[str, Any]:
    data: dict[str, Any] = {"schema": SCHEMA_VERSION, "controller": controller.slug}
    for key, field in FILE.items():
        if not field.stored:
            continue
        value = _rows(controller, key, field) if field.model else _entries(controller, key, field)
        if value or field.required:
            data[key] = value
    return data


def _rows(controller: Controller, key: str, field: Key) -> list[dict[str, Any]]:
    # Re-ordered by the schema: PostgreSQL's jsonb keeps keys in its own order, not the file's.
    tables = [
        getattr(row, field.attr)
        for row in field.model.objects.filter(controller=controller).order_by("position")
    ]
    return [canonical(table, schema_of(field, table, "", key)) for table in tables]


def _entries(controller: Controller, key: str, field: Key) -> list[dict[str, Any]]:
    """The entries kept on the controller, with the rows of their own each holds (as edited
    in the admin)."""
    entries = [dict(entry) for entry in getattr(controller, field.attr or key)]
    for sub_key, sub in (field.schema or {}).items():
        if sub.model is None:
            continue
        held: dict[str, list[dict[str, Any]]] = {}
        for row in sub.model.objects.filter(controller=controller).order_by("position", "pk"):
            table = {name: getattr(row, name) for name in sub.schema or {}}
            held.setdefault(getattr(row, sub.owner), []).append(table)
        for entry in entries:
            entry.pop(sub_key, None)
            if held.get(entry[sub.owner]):
                entry[sub_key] = held[entry[sub.owner]]
    return [canonical(entry, field.schema or {}) for entry in entries]


def dump_systems(controller: Controller) -> str:
    """The canonical TOML text of a controller's systems."""
    header = (
        f"# Systems of {controller.legal_name}: where its data about people is kept.\n"
        "# Format: controllers/systems/README.md. Secrets are never here: only the names of the\n"
        "# environment variables that hold them.\n"
    )
    return header + tomli_w.dumps(normalise(systems_data(controller)), multiline_strings=True)
