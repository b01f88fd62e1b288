"""Changing an SQL system as an approved plan says: the write side of the SQL connector.

Three operations, each given the plan's entries for one system (``fulfilment.changes.plans``):

- ``count``: the dry run. The rows of each table that hold the subject, found exactly as a
  search finds them, in a read-only session (PostgreSQL and MariaDB refuse any write in it;
  SQLite opens the file read-only), so planning can never change the system; with ``already``,
  those an objection or a withdrawal finds stopped already (and since when).
- ``apply``: one transaction on the system. The subject's rows are found again (only the
  columns the change needs), each checked against the identity or the link that led to it;
  a table holding more rows than the approved plan counted stops everything (the plan is made
  again, never stretched). Then, children before parents, each table is changed by its key:
  rows deleted, columns emptied or replaced by a keyed pseudonym, or a column set (a
  restriction flag, an opt-out: only where the processing has not stopped already, so an
  opt-out's date is never overwritten). A table restricted through its parent's flag is
  counted, not written. Files named by deleted rows or emptied file columns are removed after
  the commit. Running it again finds nothing more to change.
- ``verify``: after the commit, in a new read-only session: the changed keys are read back and
  every planned change must be there (no deleted row left, every erased field empty or
  pseudonymised, every flag set), and the search by identity must find no row of a deleted
  table. A failure names the table and what is still there, never the data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import stat
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from controllers.systems import NOW, SystemSpec, TableSpec

from .base import ConnectorError, Identities
from .sql import IN_CHUNK, SqlSource, _raw, _reflect, _short, engine_for, in_link_order

# A plan entry's change to one column: {"column": ..., "to": "null" | "pseudonymise" | "value",
# "value": text}; a table's "op": delete, update, set or none.
ColumnChange = Mapping[str, Any]


class CountChanged(ConnectorError):
    """Tables that hold more of the subject's rows than the approved plan counted: the change
    stops before it writes anything (the plan is made again, never stretched). ``tables``: per
    table, (rows found now, rows the plan counted)."""

    def __init__(self, tables: dict[str, tuple[int, int]]) -> None:
        self.tables = tables
        super().__init__(
            "; ".join(
                f"{name}: {found} rows hold the subject now, the approved plan counted {planned}"
                for name, (found, planned) in tables.items()
            )
            + ": make the plan again"
        )


@dataclass
class Applied:
    """What ``apply`` did: rows changed per table, and what ``verify`` reads back."""

    rows: dict[str, int] = field(default_factory=dict)
    keys: dict[str, list[Any]] = field(default_factory=dict)
    # Per table, per key, the values each changed column must now hold.
    expected: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # Per table and column, the SHA-256 of each value before (rectification's record).
    before: dict[str, list[str]] = field(default_factory=dict)
    # The tables as apply reflected them: verify reads them back without reflecting again.
    tables: dict[str, sa.Table] = field(default_factory=dict)


def pseudonym(value: Any, key: bytes, where: str, length: int | None = None) -> Any:
    """A keyed pseudonym of a text ``value``, of the same form where the column needs one: an
    email address stays an address (of the reserved .invalid domain), a phone or customer number
    keeps its digits' places and punctuation. The same value gives the same pseudonym (rows stay
    linkable to each other, not to the person) only under the same key. Only text is
    pseudonymised: a made-up number or date could be another person's real one (the dry run
    refuses the declaration; "null" empties such a column)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConnectorError(f"{where}: only a text column can be pseudonymised")
    digest = hmac.new(key, f"{where}\0{value}".encode(), hashlib.sha256).hexdigest()
    digits = str(int(digest, 16))
    text = value
    if "@" in text:
        result = f"{digest[:16]}@pseudonym.invalid"
    elif text and all(c.isdigit() or c in " +-()./" for c in text) and any(map(str.isdigit, text)):
        source = iter(digits)
        result = "".join(next(source) if c.isdigit() else c for c in text)
    else:
        result = f"pseudonym-{digest[:16]}"
    return result[:length] if length else result


# The words a declared value may use for true and false (the files are written in Dutch and
# English); anything else is refused, never read as false.
TRUE = ("1", "true", "yes", "on", "ja", "waar")
FALSE = ("0", "false", "no", "off", "nee", "onwaar")


def typed(column: sa.Column, text: str, now: dt.datetime) -> Any:
    """A declared value (text in the systems file) as the column's type takes it."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = str
    if text == NOW:
        if python_type is dt.datetime:
            return now.replace(tzinfo=None) if column.type.timezone is False else now
        if python_type is dt.date:
            return now.date()
        return now.isoformat(sep=" ", timespec="seconds")
    if python_type is bool:
        word = text.strip().lower()
        if word not in TRUE + FALSE:
            raise ConnectorError(f"{column.name}: {text!r} is neither true nor false")
        return word in TRUE
    if python_type is int:
        try:
            return int(text)
        except ValueError:
            raise ConnectorError(f"{column.name}: {text!r} is not a whole number") from None
    return text


def _hash(value: Any) -> str:
    return hashlib.sha256(("" if value is None else str(value)).encode()).hexdigest()


def _needed(spec: SystemSpec, changes: Mapping[str, ColumnChange]) -> SystemSpec:
    """The system with only the columns a change reads: keys, identities, links, files and
    the columns it rewrites (a search of everything would read the whole record for nothing)."""
    parents = {
        (t.reached_from.table, t.reached_from.parent_column) for t in spec.tables if t.reached_from
    }
    tables = []
    for table in spec.tables:
        change = changes.get(table.name) or {}
        wanted = {table.key, *table.identities.values()}
        if table.reached_from:
            wanted.add(table.reached_from.column)
        wanted |= {column for parent, column in parents if parent == table.name}
        wanted |= {c.name for c in table.columns if c.file}
        wanted |= {c["column"] for c in change.get("columns", ())}
        columns = tuple(c for c in table.columns if c.name in wanted)
        tables.append(replace(table, columns=columns))
    return replace(spec, tables=tuple(tables))


def _found(
    conn: Connection,
    spec: SystemSpec,
    identities: Identities,
    tables: dict[str, sa.Table] | None = None,
    kept: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, list[tuple[Any, ...]]]:
    """The subject's rows, by table (``kept``: with the rows an earlier erasure kept unlinked,
    by their recorded keys)."""
    rows: dict[str, list[tuple[Any, ...]]] = {table.name: [] for table in spec.tables}
    for batch in SqlSource(spec, kept=kept)._search(conn, identities, tables):
        rows[batch.table.name].extend(batch.rows)
    return rows


def count(spec: SystemSpec, identities: Identities) -> dict[str, int]:
    """The dry run: how many rows of each table hold the subject (read-only session)."""
    return SqlSource(_needed(spec, {})).count(identities)


def check_values(spec: SystemSpec, changes: Mapping[str, ColumnChange]) -> None:
    """The dry run's check of what a change would write, against the database's own columns:
    each column exists, each declared value fits its type and length, and a pseudonym goes only
    into a text column. A ConnectorError names the first fault (the plan cannot be approved)."""
    now = dt.datetime.now(dt.UTC)
    try:
        engine = engine_for(spec)
        with engine.connect() as conn:
            for name, change in changes.items():
                if not change.get("columns"):
                    continue
                with warnings.catch_warnings():
                    # SQLite's index on lower(email): not reflected, and not needed here.
                    warnings.simplefilter("ignore", sa.exc.SAWarning)
                    found = sa.Table(name, sa.MetaData(), autoload_with=conn)
                for item in change["columns"]:
                    column = found.c.get(item["column"])
                    if column is None:
                        raise ConnectorError(f"table {name!r} has no column {item['column']!r}")
                    _check_value(column, item, now)
    except SQLAlchemyError as error:
        raise ConnectorError(_short(error)) from None


def _check_value(column: sa.Column, item: ColumnChange, now: dt.datetime) -> None:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = str
    if item["to"] == "pseudonymise" and python_type is not str:
        raise ConnectorError(
            f'{column.name}: only a text column can be pseudonymised (declare "null")'
        )
    if item["to"] == "null" and not column.nullable:
        raise ConnectorError(f"{column.name}: the column cannot be empty (NOT NULL)")
    if item["to"] == "value":
        value = typed(column, item["value"], now)
        length = getattr(column.type, "length", None)
        if isinstance(value, str) and length and len(value) > length:
            raise ConnectorError(f"{column.name}: the value is longer than the column's {length}")


def marks(
    spec: SystemSpec,
    identities: Identities,
    kept: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, dict[str, int]]:
    """Of the subject's rows (``kept``: with those an erasure kept, by their recorded keys),
    how many carry each mark the file declares (restricted, opted out by an objection or a
    withdrawal): what ``find_subject`` shows beside the counts, so the effect of a restriction
    or an objection is visible as well as an erasure's."""
    wanted: dict[str, dict[str, tuple[str, str]]] = {}
    for table in spec.tables:
        named = {}
        if table.flag:
            named["restricted"] = (table.flag.column, table.flag.value)
        for label, action in (("objection", table.objection), ("withdrawal", table.withdrawal)):
            if action and action.action == "set":
                named[label] = (action.column, action.value)
        if named:
            wanted[table.name] = named
    if not wanted:
        return {}
    narrow = _needed(spec, {})
    out: dict[str, dict[str, int]] = {}
    try:
        engine = engine_for(spec)
        with engine.connect() as conn:
            tables = _reflect(conn, narrow)
            found = _found(conn, narrow, identities, tables, kept)
            for name, named in wanted.items():
                table = narrow.table(name)
                at = [c.name for c in table.columns].index(table.key)
                keys = [row[at] for row in found[name]]
                out[name] = {}
                for label, (column, text) in named.items():
                    db_column = tables[name].c.get(column)
                    if db_column is None:
                        raise ConnectorError(f"table {name!r} has no column {column!r}")
                    condition = (
                        db_column.is_not(None)
                        if text == NOW
                        else db_column == typed(db_column, text, dt.datetime.now(dt.UTC))
                    )
                    key_column = tables[name].c[table.key]
                    out[name][label] = sum(
                        conn.execute(
                            sa.select(sa.func.count()).where(
                                _in(conn, key_column, chunk), condition
                            )
                        ).scalar_one()
                        for chunk in _chunks(keys, conn)
                    )
    except SQLAlchemyError as error:
        raise ConnectorError(_short(error)) from None
    return out


def apply(
    spec: SystemSpec,
    identities: Identities,
    changes: Mapping[str, ColumnChange],
    *,
    now: dt.datetime,
    key: bytes,
) -> Applied:
    """Carry out the plan's ``changes`` (by table name) in one transaction."""
    narrow = _needed(spec, changes)
    applied = Applied()
    try:
        engine = engine_for(spec, write=True)
        with engine.begin() as conn:
            tables = applied.tables = _reflect(conn, narrow)
            found = _found(conn, narrow, identities, tables)
            more = {
                name: (len(found[name]), change.get("rows", 0))
                for name, change in changes.items()
                if len(found.get(name, ())) > change.get("rows", 0)
            }
            if more:
                raise CountChanged(more)
            for table in reversed(in_link_order(narrow)):
                change = changes.get(table.name)
                if change and change["op"] == "via":
                    # Restricted through its parent's flag: counted (and held to the plan's
                    # count above), never written.
                    applied.rows[table.name] = len(found[table.name])
                    continue
                if not change or change["op"] == "none" or not found[table.name]:
                    applied.rows[table.name] = 0
                    continue
                _change(
                    conn, tables[table.name], table, change, found[table.name], now, key, applied
                )
    except SQLAlchemyError as error:
        raise ConnectorError(_short(error)) from None
    return applied


def _change(
    conn: Connection,
    found: sa.Table,
    table: TableSpec,
    change: ColumnChange,
    rows: Sequence[tuple[Any, ...]],
    now: dt.datetime,
    key: bytes,
    applied: Applied,
) -> None:
    names = [c.name for c in table.columns]
    at = names.index(table.key)
    keys = [row[at] for row in rows]
    key_column = found.c[table.key]
    # The key must pick out exactly the rows found for the subject: a key column that is not
    # unique would let "WHERE key IN (...)" reach another person's rows.
    reach = (
        len(set(keys))
        if _unique(found, table.key)
        else sum(
            conn.execute(sa.select(sa.func.count()).where(_in(conn, key_column, c))).scalar_one()
            for c in _chunks(keys, conn)
        )
    )
    if reach != len(keys) or len(set(keys)) != len(keys):
        raise ConnectorError(
            f"{table.name}: its key {table.key!r} reaches {reach} rows for the subject's "
            f"{len(keys)}: it is not unique, so nothing is changed"
        )
    applied.rows[table.name] = len(keys)
    applied.keys[table.name] = keys
    files = [names.index(c.name) for c in table.columns if c.file]
    if change["op"] == "delete":
        applied.files += [str(row[i]) for row in rows for i in files if row[i]]
        for chunk in _chunks(keys, conn):
            conn.execute(sa.delete(found).where(_in(conn, key_column, chunk)))
        return
    expected: dict[Any, dict[str, Any]] = {k: {} for k in keys}
    fixed: dict[str, Any] = {}
    unless: list[tuple[str, Any, str]] = []
    per_row: list[str] = []
    for item in change.get("columns", ()):
        column = item["column"]
        if column not in found.c:
            raise ConnectorError(f"table {table.name!r} has no column {column!r}")
        if item["to"] == "pseudonymise":
            per_row.append(column)
            continue
        value = None if item["to"] == "null" else typed(found.c[column], item["value"], now)
        if item.get("unless_set"):
            unless.append((column, value, item["value"]))
        else:
            fixed[column] = value
        if column in names:
            index = names.index(column)
            if item.get("hash_before"):
                applied.before[f"{table.name}.{column}"] = [_hash(row[index]) for row in rows]
            if value is None and index in files:
                applied.files += [str(row[index]) for row in rows if row[index]]
        for k in keys:
            expected[k][column] = value
    if fixed:
        for chunk in _chunks(keys, conn):
            conn.execute(sa.update(found).where(_in(conn, key_column, chunk)).values(**fixed))
    for column, value, text in unless:
        # Only where the processing has not stopped already: an opt-out of 2024 keeps its
        # date, and verification expects each row to hold what it held.
        current = _current(conn, found, key_column, column, keys)
        todo = []
        for k in keys:
            if _stopped(current.get(k), value, text):
                expected[k][column] = current[k]
            else:
                todo.append(k)
        for chunk in _chunks(todo, conn):
            conn.execute(
                sa.update(found).where(_in(conn, key_column, chunk)).values({column: value})
            )
    if per_row:
        # A pseudonym differs per value, so these columns are written row by row (one
        # executemany: a single round trip for the batch on every driver).
        lengths = {c: getattr(found.c[c].type, "length", None) for c in per_row}
        params = []
        for row in rows:
            values = {
                c: pseudonym(row[names.index(c)], key, f"{table.name}.{c}", lengths[c])
                for c in per_row
            }
            expected[row[at]].update(values)
            params.append({"_key": row[at], **values})
        statement = (
            sa.update(found)
            .where(key_column == sa.bindparam("_key"))
            .values({c: sa.bindparam(c) for c in per_row})
        )
        conn.execute(statement, params)
    applied.expected[table.name] = expected


def _current(
    conn: Connection, found: sa.Table, key_column: sa.Column, column: str, keys: Sequence[Any]
) -> dict[Any, Any]:
    """What ``column`` holds now in each of these rows, by key."""
    values: dict[Any, Any] = {}
    for chunk in _chunks(keys, conn):
        statement = sa.select(key_column, found.c[column]).where(_in(conn, key_column, chunk))
        values.update((row[0], row[1]) for row in conn.execute(statement))
    return values


def _stopped(current: Any, value: Any, text: str) -> bool:
    """Whether a row's processing has stopped already: a ``{now}`` column holds a moment (it is
    not empty), any other holds the declared value."""
    if text == NOW:
        return current is not None and current != ""
    return current is not None and _same(current, value)


def _day(value: Any) -> str:
    """The date a stored moment falls on (ISO), or "" when it is not one."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        return ""


def already(
    spec: SystemSpec, identities: Identities, changes: Mapping[str, ColumnChange]
) -> dict[str, dict[str, Any]]:
    """The dry run of an objection or a withdrawal: of the subject's rows, those whose
    processing has stopped already (``unless_set``: the change leaves them as they are), per
    table their count and, for a ``{now}`` column, the days it stopped (read-only session)."""
    wanted = {
        name: [item for item in change.get("columns", ()) if item.get("unless_set")]
        for name, change in changes.items()
    }
    wanted = {name: items for name, items in wanted.items() if items}
    if not wanted:
        return {}
    narrow = _needed(spec, {})
    now = dt.datetime.now(dt.UTC)
    out: dict[str, dict[str, Any]] = {}
    try:
        engine = engine_for(spec)
        with engine.connect() as conn:
            tables = _reflect(conn, narrow)
            found = _found(conn, narrow, identities, tables)
            for name, items in wanted.items():
                table, db = narrow.table(name), tables[name]
                at = [c.name for c in table.columns].index(table.key)
                keys = [row[at] for row in found[name]]
                stopped: set[Any] = set()
                days: set[str] = set()
                for item in items:
                    if item["column"] not in db.c:
                        raise ConnectorError(f"table {name!r} has no column {item['column']!r}")
                    value = typed(db.c[item["column"]], item["value"], now)
                    current = _current(conn, db, db.c[table.key], item["column"], keys)
                    for key, held in current.items():
                        if _stopped(held, value, item["value"]):
                            stopped.add(key)
                            if item["value"] == NOW and (day := _day(held)):
                                days.add(day)
                if stopped:
                    out[name] = {"rows": len(stopped), "since": sorted(days)}
    except SQLAlchemyError as error:
        raise ConnectorError(_short(error)) from None
    return out


# Keys sent at once to PostgreSQL as one array parameter (elsewhere: IN_CHUNK placeholders).
ARRAY_CHUNK = 50_000


def _chunks(values: Sequence[Any], conn: Connection | None = None) -> Iterable[Sequence[Any]]:
    size = ARRAY_CHUNK if conn is not None and conn.dialect.name == "postgresql" else IN_CHUNK
    return (values[i : i + size] for i in range(0, len(values), size))


def _in(conn: Connection, column: sa.Column, chunk: Sequence[Any]) -> Any:
    """``column IN (chunk)``; on PostgreSQL ``= ANY(array)``: one parameter instead of one a key.
    A thousand placeholders cost SQLAlchemy and psycopg more than the database's work (psycopg
    prepares no statement of over 50 parameters): erasing 100,000 rows went from 5.5x three
    hand-written DELETEs to under 2x (bench/RESULTS.md)."""
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(None, list(chunk), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)
    # The keys as the search read them (the driver's values, sql._read): bound as they are.
    return _raw(column).in_(chunk)


def _unique(found: sa.Table, key: str) -> bool:
    """Whether the database itself keeps the key unique: the primary key, or a unique
    constraint or index on that column alone (then no count need prove it)."""
    if [c.name for c in found.primary_key.columns] == [key]:
        return True
    return any(
        isinstance(c, sa.UniqueConstraint) and [col.name for col in c.columns] == [key]
        for c in found.constraints
    ) or any(i.unique and [col.name for col in i.columns] == [key] for i in found.indexes)


def _file_path(base: Path, relative: str) -> Path | None:
    """Where a named file is, if it is inside the system's folder; its last part is not
    resolved, so a link is seen as the link (and refused), never followed to its target."""
    try:
        path = base / os.path.normpath(relative)
        parent = path.parent.resolve()
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None
    if not parent.is_relative_to(base) or path.name in ("", ".", ".."):
        return None
    return parent / path.name


def remove_files(root: Path | None, relatives: Iterable[str]) -> tuple[int, list[str]]:
    """Delete the files that erased rows named, only inside the system's files folder and only
    regular files (a link is not followed). Returns how many, and a warning for each refused
    or failed (the caller's verification then finds it still there)."""
    removed, warnings = 0, []
    relatives = list(relatives)
    if root is None:
        return 0, ["files are named but the system has no files folder"] if relatives else []
    base = root.resolve()
    for relative in relatives:
        path = _file_path(base, relative)
        if path is None:
            warnings.append("a file outside the system's folder is not deleted")
            continue
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue  # gone already (a second run, or never there)
        except OSError as error:
            warnings.append(f"a file could not be read: {error.strerror}")
            continue
        if not stat.S_ISREG(mode):
            warnings.append("a named path that is not a regular file is not deleted")
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            warnings.append(f"a file could not be deleted: {error.strerror}")
            continue
        removed += 1
    return removed, warnings


def files_left(root: Path | None, relatives: Iterable[str]) -> int:
    """How many of the files still exist as regular files (verification of their removal)."""
    if root is None:
        return 0
    base = root.resolve()
    left = 0
    for relative in relatives:
        path = _file_path(base, relative)
        with contextlib.suppress(OSError):
            if path is not None and stat.S_ISREG(os.lstat(path).st_mode):
                left += 1
    return left


def preview(
    spec: SystemSpec, identities: Identities, changes: Mapping[str, ColumnChange]
) -> Applied:
    """What ``apply`` is about to do, read before it does it (read-only session): the keys of
    the rows it changes, the files they name, and the SHA-256 of each value a rectification
    replaces. Kept with the change first, so a run that dies after its commit still removes
    the files and records the old values' hashes (and the keys of rows an erasure unlinks),
    not what is left after it."""
    narrow = _needed(spec, changes)
    seen = Applied()
    try:
        engine = engine_for(spec)
        with engine.connect() as conn:
            found = _found(conn, narrow, identities)
    except SQLAlchemyError as error:
        raise ConnectorError(_short(error)) from None
    for name, change in changes.items():
        if name not in found:
            raise ConnectorError(f"the plan names table {name!r}, which the file no longer has")
        table = narrow.table(name)
        names = [c.name for c in table.columns]
        rows = found[name]
        seen.keys[name] = [row[names.index(table.key)] for row in rows]
        nulled = {c["column"] for c in change.get("columns", ()) if c["to"] == "null"}
        for column in table.columns:
            if column.file and (change["op"] == "delete" or column.name in nulled):
                at = names.index(column.name)
                seen.files += [str(row[at]) for row in rows if row[at]]
        for item in change.get("columns", ()):
            if item.get("hash_before") and item["column"] in names:
                at = names.index(item["column"])
                seen.before[f"{name}.{item['column']}"] = [_hash(row[at]) for row in rows]
    return seen


def still_named(spec: SystemSpec, relatives: Iterable[str]) -> set[str]:
    """Of these files, those a row of the system still names (another person's photo that is
    the same file, de-duplicated by the system): they are kept."""
    wanted = sorted(set(relatives))
    named: set[str] = set()
    if not wanted:
        return named
    columns = [(t, c.name) for t in spec.tables for c in t.columns if c.file]
    try:
        engine = engine_for(spec)
        with engine.connect() as conn:
            for table, column in columns:
                found = sa.Table(table.name, sa.MetaData(), sa.Column(column))
                for chunk in _chunks(wanted):
                    statement = sa.select(found.c[column]).where(found.c[column].in_(chunk))
                    named.update(str(value) for value in conn.execute(statement).scalars())
    except SQLAlchemyError as error:
        raise ConnectorError(_short(error)) from None
    return named


def verify(
    spec: SystemSpec,
    identities: Identities,
    changes: Mapping[str, ColumnChange],
    applied: Applied,
) -> list[str]:
    """What is still there that the plan meant to change (empty: verified)."""
    problems: list[str] = []
    narrow = _needed(spec, changes)
    try:
        engine = engine_for(spec)
        with engine.connect() as conn:
            tables = applied.tables or _reflect(conn, narrow)
            for name, keys in applied.keys.items():
                found, change = tables[name], changes[name]
                key_column = found.c[narrow.table(name).key]
                if change["op"] == "delete":
                    left = sum(
                        conn.execute(
                            sa.select(sa.func.count()).where(_in(conn, key_column, chunk))
                        ).scalar_one()
                        for chunk in _chunks(keys, conn)
                    )
                    if left:
                        problems.append(f"{name}: {left} of the deleted rows are still there")
                    continue
                expected = applied.expected.get(name, {})
                columns = sorted({c for values in expected.values() for c in values})
                wrong = 0
                for chunk in _chunks(keys, conn):
                    statement = sa.select(key_column, *(found.c[c] for c in columns)).where(
                        _in(conn, key_column, chunk)
                    )
                    for row in conn.execute(statement):
                        want = expected.get(row[0], {})
                        if any(not _same(row[i + 1], want.get(c)) for i, c in enumerate(columns)):
                            wrong += 1
                if wrong:
                    problems.append(f"{name}: {wrong} rows do not hold the planned values")
            deleted = [n for n, change in changes.items() if change["op"] == "delete"]
            if deleted:
                again = {name: 0 for name in deleted}
                for batch in SqlSource(narrow)._search(conn, identities, tables):
                    if batch.table.name in again:
                        again[batch.table.name] += len(batch.rows)
                problems += [
                    f"{name}: the search still finds {n} rows" for name, n in again.items() if n
                ]
    except SQLAlchemyError as error:
        problems.append(f"could not verify: {_short(error)}")
    except ConnectorError as error:
        problems.append(f"could not verify: {error}")
    return problems


def _same(stored: Any, wanted: Any) -> bool:
    if stored == wanted:
        return True
    if stored is None or wanted is None:
        return False
    if isinstance(stored, dt.datetime) and isinstance(wanted, dt.datetime):
        # A database without time zones hands back what it was given, naive.
        return stored.replace(tzinfo=None) == wanted.replace(tzinfo=None)
    return str(stored) == str(wanted)
