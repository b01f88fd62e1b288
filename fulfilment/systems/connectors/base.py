"""What every connector shares: the class each kind of system's connector is, its errors, the
identities it searches by, where a system's secrets come from, and the check that every row
handed back belongs to the subject."""

from __future__ import annotations

import datetime as dt
import decimal
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from django.conf import settings

from controllers.systems import SystemSpec, TableSpec

# The identities a search can use, by kind (controllers.systems.IDENTITY_KINDS): the value the
# subject's request carries for each.
Identities = Mapping[str, str]


# When a job's record is dated: a set-back clock's time, or None for the wall clock as it is
# read where each thing is recorded.
Now = dt.datetime | None


class Work(Protocol):
    """What a job (``fulfilment.systems.jobs.JobKind``) does at each kind of system: the
    connector of the job's system calls the one for its kind (``Connector.serve``) with itself
    (a ``SqlConnector``, an ``HttpConnector``: named as their base here, which neither
    module may import back)."""

    def by_sql(self, job: Any, connector: Connector, now: Now) -> None: ...

    def by_http(self, job: Any, connector: Connector, now: Now) -> None: ...


class Connector(ABC):
    """How one kind of system is spoken to: one subclass a kind (``connectors.CONNECTORS``), as
    one transport an integration. A job is dispatched by its system's kind through ``serve``
    (the subclass names the job's action for its kind), never by an ``if`` on the kind."""

    def __init__(self, spec: SystemSpec) -> None:
        self.spec = spec

    @abstractmethod
    def serve(self, work: Work, job: Any, now: Now) -> None:
        """Run one try of ``job`` at this system: ``work``'s action for this kind."""


class ConnectorError(Exception):
    """A system could not be searched (down, slow, misconfigured, garbage): says which, and why.
    A search that ends in one is retried, then failed with this message for the officer."""


class ForeignRows(ConnectorError):
    """The system handed back rows that do not belong to the subject. Nothing of that search is
    kept: a system that answers with another person's data is not trusted for the rest."""


class Number(decimal.Decimal):
    """A number together with the text it was written as: what a processor's JSON number is
    read as when a float would not hold it exactly (54.50, 0.1000000000000000055, 1e400, an
    integer beyond 64 bits). Its value is the exact Decimal of that text; the package writes
    ``text`` back unchanged (never longer: a Decimal's fixed-point form of 1e-999999 would be a
    million characters)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Number:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text


def number_json(value: Any) -> orjson.Fragment:
    """orjson's ``default`` for a ``Number``: its text, written as the JSON number it was."""
    if isinstance(value, Number):
        return orjson.Fragment(value.text)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


@dataclass(frozen=True)
class Batch:
    """Rows of one table, values in the order of the table's declared columns."""

    table: TableSpec
    rows: Sequence[Sequence[Any]]
    # Found by the keys an earlier erasure recorded (rows it kept unlinked), not by identity.
    kept: bool = False


def _demo_value(template: str) -> str:
    return template.replace("{var}", str(settings.VAR_DIR)).replace(
        "{processor}", settings.DEMO_PROCESSOR_URL
    )


def setting(spec: SystemSpec, env_key: str, demo_key: str = "", *, required: bool = True) -> str:
    """A system's connection setting: the environment variable its file names; in the demo only,
    the file's demo value when the variable is unset. Never a secret from the file."""
    variable = getattr(spec, env_key)
    value = os.environ.get(variable, "") if variable else ""
    if not value and settings.DEMO and demo_key and getattr(spec, demo_key):
        value = _demo_value(getattr(spec, demo_key))
    if not value and required:
        raise ConnectorError(f"the environment variable {variable} is not set")
    return value


def files_root(spec: SystemSpec) -> Path | None:
    value = setting(spec, "files_env", "demo_files", required=False)
    return Path(value) if value else None


def normal(kind: str, value: Any) -> str:
    """How an identity compares: an email address case-insensitively, the rest as text."""
    text = "" if value is None else str(value).strip()
    return text.lower() if kind == "email" else text


# Types whose values are equal exactly when their texts are, so a set of them holds each text
# once (1 == 1.0 == True and Decimal("1") == 1 are not: their texts differ; nor are equal
# datetimes in two time zones). A column with any other value (or an unhashable one, a JSON
# array from an HTTP system) is checked value by value.
_SAME_AS_TEXT = frozenset({str, int, type(None)})


def check_rows(table: TableSpec, rows: Iterable[Sequence[Any]], identities: Identities) -> None:
    """ForeignRows unless every row of an identity table carries one of the subject's
    identities in the column declared for it. A blank identity is none: it would match
    every row whose column is empty."""
    positions = {
        kind: [c.name for c in table.columns].index(column)
        for kind, column in table.identities.items()
        if normal(kind, identities.get(kind))
    }
    # The rows that no identity checked so far matches; each kind narrows them down.
    remaining = rows if isinstance(rows, Sequence) else list(rows)
    for kind, index in positions.items():
        if not remaining:
            return
        wanted = normal(kind, identities[kind])
        remaining = _unmatched(remaining, index, kind, wanted)
    if remaining:
        raise ForeignRows(
            f"{table.name}: the system returned a row that does not belong to the subject"
        )


def _unmatched(
    rows: Sequence[Sequence[Any]], index: int, kind: str, wanted: str
) -> Sequence[Sequence[Any]]:
    """The rows whose value at ``index`` is not the identity ``wanted``. A batch holds few
    distinct values there (usually one: the subject's address), so each distinct one is
    normalised once instead of once a row (a million-row export: ~1 s of its search)."""
    values = [row[index] for row in rows]
    # The types of every value, not of the distinct ones: a set keeps one of 1 and 1.0.
    if not set(map(type, values)) <= _SAME_AS_TEXT:
        return [row for row in rows if normal(kind, row[index]) != wanted]
    distinct = set(values)
    wrong = {value for value in distinct if normal(kind, value) != wanted}
    if not wrong:
        return []
    return [row for row in rows if row[index] in wrong]
