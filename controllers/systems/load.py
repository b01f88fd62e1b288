"""Loading systems files into the registry, as the declaration in ``format`` says where each key
is kept.

As with policies: ``load_systems_files`` validates every file before it writes anything and
then replaces the systems of each controller in one transaction; a ``PolicyError`` names the
file, the key and the fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from django.db import models, transaction

from ..models import Controller
from ..policy import PolicyError, read_toml, toml_files
from .format import FILE, KIND_SCHEMAS, Key, canonical, schema_of, spec_of
from .validate import validate_systems
from .views import SystemSpec


def read_systems_file(path: Path) -> dict[str, Any]:
    """Parse and check one file (all that needs no database); failures name the file."""
    data = read_toml(path)
    validate_systems(data, str(path))
    return data


def systems_files(directory: Path) -> list[Path]:
    return toml_files(directory)


def load_systems_files(
    paths: Iterable[Path],
    *,
    check: Callable[[str, list[SystemSpec]], None] | None = None,
) -> list[tuple[Controller, list[models.Model]]]:
    """Check every file against its controller's policy (and with ``check``, given each file's
    path and systems, against anything else: ``load_systems`` holds them against the databases
    they describe and raises PolicyError), then replace the systems of each controller in one
    transaction (all or nothing). Gives each controller with its systems' rows."""
    parsed: list[tuple[Controller, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for path in paths:
        data = read_systems_file(path)
        slug = data["controller"]
        controller = Controller.objects.filter(slug=slug).first()
        if controller is None:
            raise PolicyError(str(path), "controller", f"no controller {slug!r} (load its policy)")
        if slug in seen:
            raise PolicyError(str(path), "controller", f"{slug!r} is also in {seen[slug]}")
        seen[slug] = str(path)
        categories = controller.data_categories.values_list("name", flat=True)
        recipients = controller.recipients.values_list("name", flat=True)
        validate_systems(data, str(path), categories, recipients)
        if check is not None:
            systems = data["systems"]
            check(str(path), [spec_of(canonical(s, KIND_SCHEMAS[s["kind"]])) for s in systems])
        parsed.append((controller, data))
    with transaction.atomic():
        return [(controller, _store(controller, data)) for controller, data in parsed]


def _store(controller: Controller, data: Mapping[str, Any]) -> list[models.Model]:
    """Keep a checked file's keys where the declaration says; gives the rows of the systems."""
    rows: list[models.Model] = []
    for key, field in FILE.items():
        if not field.stored:
            continue
        if field.model is not None:
            rows = _rows(controller, key, field, data.get(key, []))
        else:
            attribute = field.attr or key
            setattr(controller, attribute, _entries(controller, field, data.get(key, [])))
            controller.save(update_fields=[attribute])
    return rows


def _rows(
    controller: Controller, key: str, field: Key, items: list[Mapping[str, Any]]
) -> list[models.Model]:
    """Rows of their own, one a table of the array, matched by ``field.match`` (a system keeps
    its row); the file is the truth: a row it no longer names is gone from the registry (cases
    that used it keep its name in their record)."""
    kept = []
    for position, item in enumerate(items):
        schema = schema_of(field, item, "", key)
        table = canonical(item, schema)
        columns = {name: table[name] for name, sub in schema.items() if sub.column}
        row, _ = field.model.objects.update_or_create(
            controller=controller,
            **{field.match: table[field.match]},
            defaults={**columns, "position": position, field.attr: table},
        )
        kept.append(row)
    field.model.objects.filter(controller=controller).exclude(pk__in=[r.pk for r in kept]).delete()
    return kept


def _entries(
    controller: Controller, field: Key, items: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Entries kept on the controller in canonical form; what they hold as rows of their own
    (the register of recipients' identities) replaces those rows, each row keeping its entry's
    ``owner`` key."""
    entries = [canonical(item, field.schema or {}) for item in items]
    for key, sub in (field.schema or {}).items():
        if sub.model is None:
            continue
        pairs = [(entry[sub.owner], row) for entry in entries for row in entry.pop(key, [])]
        sub.model.objects.filter(controller=controller).delete()
        sub.model.objects.bulk_create(
            sub.model(controller=controller, position=position, **{sub.owner: owner}, **row)
            for position, (owner, row) in enumerate(pairs)
        )
    return entries
