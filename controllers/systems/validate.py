"""Checking a systems file against the declaration in ``format``: first the types of every key
(unknown and missing keys, kinds, allowed values, bounds), then the rules each key declares.

A ``PolicyError`` names the file, the key (``systems[0].tables[2].restriction.via``) and what is
wrong, the first fault the file has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..policy import PolicyError, _check
from .format import FILE, Key, canonical, schema_of, spec_of
from .rules import Place


def validate_systems(
    data: Mapping[str, Any],
    path: str,
    categories: Iterable[str] | None = None,
    recipients: Iterable[str] | None = None,
) -> None:
    """Check one parsed systems file; raises PolicyError. ``categories`` and ``recipients``:
    the names of the controller's data categories and recipients, when known (the loader
    passes them)."""
    _types(path, FILE, data, "")
    place = Place(
        categories=tuple(dict.fromkeys(categories)) if categories is not None else None,
        recipients=tuple(dict.fromkeys(recipients)) if recipients is not None else None,
        systems={system["name"]: system["kind"] for system in data["systems"]},
    )
    _rules(path, FILE, data, "", place)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where and key and not key.startswith("[") else where + key


def _types(path: str, schema: Mapping[str, Key], data: Mapping[str, Any], where: str) -> None:
    for key in data:
        if key not in schema:
            expected = ", ".join(schema)
            raise PolicyError(path, _join(where, key), f"unknown key (expected one of {expected})")
    for key, field in schema.items():
        here = _join(where, key)
        if key not in data:
            if field.required:
                raise PolicyError(path, here, "missing")
            continue
        _type(path, field, data[key], here)


def _type(path: str, field: Key, value: Any, here: str) -> None:
    if field.kind == "table":
        if not isinstance(value, dict):
            raise PolicyError(path, here, f"expected a table, got {type(value).__name__}")
        _types(path, field.schema or {}, value, here)
    elif field.kind == "tables":
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            # As the file writes it: [[systems]], [[systems.tables]].
            header = re.sub(r"\[\d+\]", "", here)
            raise PolicyError(path, here, f"expected an array of tables ([[{header}]])")
        for index, item in enumerate(value):
            at = f"{here}[{index}]"
            _types(path, schema_of(field, item, path, at), item, at)
    else:
        _check(path, here, field, value)


def _rules(
    path: str, schema: Mapping[str, Key], data: Mapping[str, Any], where: str, place: Place
) -> None:
    """Each key's rules, after the rules of the tables it holds: a rule that holds a table
    against its siblings reads tables already checked on their own."""
    place = replace(place, table=data)
    for key, field in schema.items():
        value = data.get(key)
        here = _join(where, key)
        if field.kind == "table" and value is not None:
            _rules(path, field.schema or {}, value, here, place)
        elif field.kind == "tables" and value is not None:
            for index, item in enumerate(value):
                inner = schema_of(field, item, path, here)
                around = place
                if field.variants is not None:  # entering a system: its typed view
                    around = replace(place, system=spec_of(canonical(item, inner)))
                _rules(path, inner, item, f"{here}[{index}]", around)
        for rule in field.rules:
            for sub, message in rule(key, value, place):
                raise PolicyError(path, _join(where, sub), message)
