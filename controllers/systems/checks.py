"""Holding a systems file against the systems it describes, where a room above can reach them.

The controllers layer cannot import the rooms above it, and only fulfilment's connectors reach a
system (an SQL database, say): a room registers, per kind of system, a function that looks the
declared tables and columns up there (fulfilment registers its SQL check in its ``ready``), and
``load_systems`` runs them before it loads anything, unless told ``--no-check``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..policy import PolicyError
from .views import SystemSpec


class Found(Protocol):
    # Each fault as its place in the system's table ("tables[0].columns[4].name") and what is
    # wrong; a warning refuses nothing (a database that cannot be reached, an index missing).
    missing: list[tuple[str, str]]
    warnings: list[str]


Check = Callable[[SystemSpec], Found]
_CHECKS: dict[str, Check] = {}


def add_system_check(kind: str, check: Check) -> None:
    _CHECKS[kind] = check


def against_systems(path: str, specs: list[SystemSpec], warnings: list[str]) -> None:
    """Every registered check of the file's systems; raises PolicyError naming each fault with
    its place in the file and its system, and adds the warnings to ``warnings``."""
    faults = []
    for index, spec in enumerate(specs):
        check = _CHECKS.get(spec.kind)
        if check is None:
            continue
        found = check(spec)
        faults += [
            f"systems[{index}].{where} (system {spec.name!r}): {what}"
            for where, what in found.missing
        ]
        warnings.extend(f"{path}: {spec.name}: {warning}" for warning in found.warnings)
    if faults:
        raise PolicyError(
            path,
            "",
            "the database lacks what the file declares (nothing was loaded):\n  "
            + "\n  ".join(faults),
        )
