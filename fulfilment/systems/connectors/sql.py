"""The SQL connector: finds the subject's rows in a PostgreSQL, MariaDB/MySQL or SQLite database
through SQLAlchemy Core, as the systems file declares it.

Only declared columns are read, in a read-only session, with a timeout on connecting and on each
statement. A table with identity columns is searched by the subject's identities (an email
address case-insensitively); a linked table by the values its parent's rows hold. Rows stream
from a server-side cursor in batches and are never all held at once; every row of an identity
table is checked against the identity before it is handed on (``base.check_rows``).

Each value comes as the database holds it (``_read``): the driver's own value, never
SQLAlchemy's conversion of it (which made SQLite's 54.5 ``Decimal("54.5000000000")``), and on
PostgreSQL a type Python has no exact value for (json, arrays, intervals, ranges, money...) as
PostgreSQL's own text. ``fulfilment.searches.package`` says how each is written.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from controllers.systems import SystemSpec, TableSpec

from .base import (
    Batch,
    Connector,
    ConnectorError,
    ForeignRows,
    Identities,
    Now,
    Work,
    check_rows,
    files_root,
    setting,
)

# Values of a parent's column looked up in one IN (...) at most: databases limit parameters.
IN_CHUNK = 1000


def engine_for(spec: SystemSpec, *, write: bool = False) -> Engine:
    """An engine for one search: no pool (a search is rare and long), read-only where the
    database can say so, and a time limit on connecting and on every statement. ``write``: for
    the one transaction that executes an approved plan (``changes.execute``); every search,
    count and dry run is read-only."""
    try:
        url = sa.make_url(setting(spec, "url_env", "demo_url"))
    except sa.exc.ArgumentError:
        raise ConnectorError(f"the URL in {spec.url_env} is not a database URL") from None
    if url.drivername in ("postgres", "postgres+psycopg2", "postgres+psycopg"):
        # The scheme Heroku-style DATABASE_URLs use; SQLAlchemy knows only "postgresql".
        url = url.set(drivername=url.drivername.replace("postgres", "postgresql", 1))
    timeout = spec.timeout_seconds
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database or "")
        if not url.database or not path.is_file():
            # sqlite3 would create an empty database and find nobody: say the file is missing.
            raise ConnectorError(f"no SQLite database at {path}")

        mode = "rw" if write else "ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(
                f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=timeout
            )

        return sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)
    if backend == "postgresql":
        if url.get_driver_name() in ("", "psycopg2"):
            url = url.set(drivername="postgresql+psycopg")
        # cursor_tuple_fraction=1: the rows stream from a server-side cursor (DECLARE), which
        # PostgreSQL otherwise plans for reading a tenth of its rows. For "... IN (1000 values)
        # ORDER BY key" on a linked table it then walked the whole primary key and filtered,
        # a scan of the table for every chunk (88 ms instead of 2.6 ms a chunk; bench/RESULTS.md).
        # A search reads every row, so plan for the whole result, as for any other query.
        # TimeZone=UTC: a timestamptz is an instant (PostgreSQL keeps it in UTC); read in UTC,
        # its text in the package does not depend on the server's or the role's setting.
        options = (
            f"-c statement_timeout={timeout * 1000}"
            f" -c default_transaction_read_only={'off' if write else 'on'}"
            " -c cursor_tuple_fraction=1"
            " -c TimeZone=UTC"
        )
        connect_args: dict[str, Any] = {"connect_timeout": min(timeout, 30), "options": options}
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        if url.get_driver_name() == "psycopg":
            event.listen(engine, "connect", _exact_times)
        return engine
    if backend in ("mysql", "mariadb"):
        if url.get_driver_name() in ("", "mysqldb"):
            url = url.set(drivername=f"{backend}+pymysql")
        connect_args = {
            "connect_timeout": min(timeout, 30),
            "read_timeout": timeout,
            "write_timeout": timeout,
            "init_command": "SET SESSION TRANSACTION READ " + ("WRITE" if write else "ONLY"),
        }
    else:
        raise ConnectorError(
            f"unsupported database {backend!r} (PostgreSQL, MariaDB/MySQL, SQLite)"
        )
    return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _exact_times(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL holds dates and times that Python's cannot: 'infinity', a year past 9999 or
    before 1, the time 24:00:00. psycopg refuses them, and the whole search would fail on one;
    on a connection of the connector, such a value comes as PostgreSQL's own text instead, and
    every other as psycopg makes it. (A wrapper around psycopg's own loader, which cannot be
    subclassed: ~0.25 s more a million timestamps.)"""
    from psycopg import DataError
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    adapters = dbapi_connection.adapters
    for name in ("date", "time", "timetz", "timestamp", "timestamptz"):
        oid = adapters.types[name].oid
        native = adapters.get_loader(oid, Format.TEXT)

        class Exact(Loader):
            def __init__(self, oid: int, context: Any = None, _native: Any = native) -> None:
                super().__init__(oid, context)
                self._load = _native(oid, context).load

            def load(self, data: Any) -> Any:
                try:
                    return self._load(data)
                except DataError:
                    return bytes(data).decode()

        adapters.register_loader(oid, Exact)


# The types whose values psycopg hands over exactly (numbers, text, truth values, dates and
# times, bytes, UUIDs). Every other PostgreSQL type is read as its own text: psycopg would make
# json a dict (its numbers floats), an interval a timedelta (a month as 30 days), an array a
# Python list, an address an ipaddress object, none of them as the database holds them.
_NATIVE = (
    sa.Integer,
    sa.Numeric,
    sa.Float,
    sa.String,
    sa.Boolean,
    sa.Date,
    sa.DateTime,
    sa.Time,
    sa.LargeBinary,
    sa.Uuid,
)


def _read(conn: Connection, column: sa.Column) -> Any:
    """What a search selects for a column: the value as the database holds it.

    No SQLAlchemy result processing (``type_coerce`` to NullType): the driver's value as it
    comes. On SQLite that is the stored value itself (a NUMERIC column's 54.5 a float, 121 an
    int, a DATETIME its text, a BOOLEAN its 0 or 1), never SQLAlchemy's Decimal with ten
    decimals, or a date parsed from text (which fails on any other format). On PostgreSQL,
    psycopg's exact values, and PostgreSQL's text for the rest (``_NATIVE``). On MariaDB/MySQL,
    PyMySQL's values (DECIMAL a Decimal with the column's scale, JSON and SET their text), with a
    TIME as MariaDB's text ('-01:30:00' or '838:59:59'; PyMySQL makes it a timedelta) and a BIT
    as its number."""
    dialect = conn.dialect.name
    if dialect == "postgresql" and not isinstance(column.type, _NATIVE):
        return sa.cast(column, sa.Text)
    if dialect in ("mysql", "mariadb"):
        if isinstance(column.type, sa.Time):
            return sa.cast(column, sa.CHAR)
        if isinstance(column.type, mysql.BIT):
            return sa.cast(column, mysql.INTEGER(unsigned=True))
    return sa.type_coerce(column, sa.types.NullType())


def _raw(column: sa.Column) -> Any:
    """The column compared with values a search read (``_read``): bound as they are, with no
    SQLAlchemy conversion, so a link compares exactly what the parent holds."""
    return sa.type_coerce(column, sa.types.NullType())


def _reflect(conn: Connection, spec: SystemSpec) -> dict[str, sa.Table]:
    """The declared tables as the database has them: a declared column it lacks is an error of
    the systems file, said plainly."""
    meta = sa.MetaData()
    tables = {}
    for table in spec.tables:
        try:
            with warnings.catch_warnings():
                # SQLite's index on lower(email): not reflected, and not needed to search.
                warnings.simplefilter("ignore", sa.exc.SAWarning)
                found = sa.Table(table.name, meta, autoload_with=conn)
        except NoSuchTableError:
            raise ConnectorError(f"the database has no table {table.name!r}") from None
        missing = [c.name for c in table.columns if c.name not in found.c]
        if missing:
            raise ConnectorError(f"table {table.name!r} has no column {missing[0]!r}")
        tables[table.name] = found
    return tables


def in_link_order(spec: SystemSpec) -> list[TableSpec]:
    """Parents before the tables reached from them (the file's check rules out loops)."""
    ordered: list[TableSpec] = []
    pending = list(spec.tables)
    while pending:
        for table in pending:
            link = table.reached_from
            if link is None or link.table in {t.name for t in ordered}:
                ordered.append(table)
                pending.remove(table)
                break
        else:  # pragma: no cover - validate_systems refuses a file with a loop
            raise ConnectorError("the links between tables loop")
    return ordered


def _coerce(column: sa.Column, value: str) -> Any:
    """The identity as the column's type holds it, or None when it cannot be one (a customer
    number with letters cannot match an integer column)."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if python_type is int:
        return int(value) if value.isascii() and value.isdigit() else None
    return value


def _identity_clause(
    conn: Connection, found: sa.Table, table: TableSpec, identities: Identities
) -> Any:
    conditions = []
    for kind, column_name in table.identities.items():
        if not (identities.get(kind) or "").strip():
            continue  # a blank identity finds nobody, not everyone whose column is empty
        column = found.c[column_name]
        if kind == "email" and conn.dialect.name not in ("mysql", "mariadb"):
            # MariaDB/MySQL compare case-insensitively already (and keep their index); elsewhere
            # an index on lower(column) serves this (the loader warns where there is none).
            conditions.append(sa.func.lower(column) == identities[kind].strip().lower())
            continue
        value = _coerce(column, identities[kind].strip())
        if value is not None:
            conditions.append(column == value)
    return sa.or_(*conditions) if conditions else None


class SqlConnector(Connector):
    """A database, searched (``search``, through ``SqlSource``) and changed.

    The change side stays the module ``sqlchange`` (functions of a spec), not methods of this
    class: the dry run that makes a plan, ``find_subject``'s marks and the bench call it with a
    spec and no job; a change (``fulfilment.changes.execute``) calls it with ``self.spec``."""

    def serve(self, work: Work, job: Any, now: Now) -> None:
        work.by_sql(job, self, now)

    def search(
        self, identities: Identities, kept: Mapping[str, Sequence[Any]] | None = None
    ) -> Iterator[Batch]:
        """The subject's rows (and those an earlier erasure kept by ``kept`` keys), batched."""
        return SqlSource(self.spec, kept=kept).search(identities)

    def files(self) -> Path | None:
        """Where the system keeps the files its rows name (None: it declares none)."""
        return files_root(self.spec)


class SqlSource:
    """Searches one SQL system for one subject. ``kept``: per table, the keys of rows an
    earlier erasure of the subject kept while cutting their link to them (``_kept_rows``)."""

    def __init__(
        self,
        spec: SystemSpec,
        *,
        batch_size: int = 5000,
        kept: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        self.spec = spec
        self.batch_size = batch_size
        self.kept = kept or {}

    def search(self, identities: Identities) -> Iterator[Batch]:
        """Every declared table's rows that hold the subject, in batches, parents first."""
        try:
            engine = engine_for(self.spec)
            with engine.connect() as conn:
                yield from self._search(conn, identities)
        except SQLAlchemyError as error:
            # The driver's message, first line only: it names the fault, never the password.
            raise ConnectorError(_short(error)) from None

    def _search(
        self,
        conn: Connection,
        identities: Identities,
        tables: dict[str, sa.Table] | None = None,
    ) -> Iterator[Batch]:
        """``tables``: the declared tables as reflected on this connection already (a change
        reflects them once for its search, its writes and its checks)."""
        tables = tables or _reflect(conn, self.spec)
        # The values of each (table, column) that a linked table looks up, with how many of the
        # subject's rows hold each.
        needed: dict[tuple[str, str], Counter[Any]] = {
            (t.reached_from.table, t.reached_from.parent_column): Counter()
            for t in self.spec.tables
            if t.reached_from
        }
        # Per statement, not on the connection: Connection.execution_options() changes the
        # connection in place, and a change that searches first then deletes in the same
        # transaction must not send its DELETE through a server-side cursor.
        streaming = {"stream_results": True, "yield_per": self.batch_size}
        for table in in_link_order(self.spec):
            found = tables[table.name]
            columns = [_read(conn, found.c[c.name]) for c in table.columns]
            names = [c.name for c in table.columns]
            collect = [
                (names.index(col), values) for (t, col), values in needed.items() if t == table.name
            ]
            if table.identities:
                clause = _identity_clause(conn, found, table, identities)
                clauses = [clause] if clause is not None else []
            else:
                link = table.reached_from
                assert link is not None
                values = sorted(needed[(link.table, link.parent_column)], key=repr)
                clauses = [
                    _raw(found.c[link.column]).in_(values[i : i + IN_CHUNK])
                    for i in range(0, len(values), IN_CHUNK)
                ]
            recorded = self.kept.get(table.name, ())
            seen: set[Any] = set()  # the keys found by identity or link (with ``recorded``)
            for clause in clauses:
                statement = sa.select(*columns).where(clause).order_by(found.c[table.key])
                for rows in _tuples(
                    conn.execute(statement, execution_options=streaming), self.batch_size
                ):
                    if table.identities:
                        check_rows(table, rows, identities)
                    else:
                        link = table.reached_from
                        allowed = needed[(link.table, link.parent_column)]
                        position = names.index(link.column)
                        # Compared as text too: an integer key linked to a text column
                        # (1 and '1') is the same link, while MariaDB's '1abc' = 1 is not.
                        if any(row[position] not in allowed for row in rows):
                            text = {str(value) for value in allowed}
                            if any(str(row[position]) not in text for row in rows):
                                raise _foreign(table)
                    for position, values in collect:
                        values.update(row[position] for row in rows)
                    if recorded:
                        seen.update(row[names.index(table.key)] for row in rows)
                    yield Batch(table, rows)
            if recorded:
                for rows in self._kept_rows(conn, found, table, columns, recorded, seen):
                    for position, values in collect:
                        values.update(row[position] for row in rows)
                    yield Batch(table, rows, kept=True)
            for (parent, column), values in needed.items():
                if parent == table.name:
                    _only_theirs(conn, found, column, values, table)

    def _kept_rows(
        self,
        conn: Connection,
        found: sa.Table,
        table: TableSpec,
        columns: list[Any],
        recorded: Sequence[Any],
        seen: set[Any],
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows an erasure kept under a ground while emptying what linked them to the
        subject: found by the keys it recorded, each checked against those keys (a row they do
        not name is another's), and not repeated where the search found them already."""
        at = [c.name for c in table.columns].index(table.key)
        key = found.c[table.key]
        wanted = {str(value) for value in recorded}
        values = [v for v in (_coerce(key, str(value)) for value in recorded) if v is not None]
        named: set[str] = set()
        for i in range(0, len(values), IN_CHUNK):
            statement = sa.select(*columns).where(key.in_(values[i : i + IN_CHUNK])).order_by(key)
            for rows in _tuples(conn.execute(statement), self.batch_size):
                texts = [str(row[at]) for row in rows]
                if any(text not in wanted for text in texts):
                    raise ForeignRows(
                        f"{table.name}: the system returned a row the recorded keys do not name"
                    )
                # The change held each key to one row; a second row under a key since (where
                # the database does not keep the key unique) cannot be told from the kept one.
                if len(set(texts)) < len(texts) or named & set(texts):
                    raise ForeignRows(
                        f"{table.name}: a recorded key names more than one row now, so the "
                        "kept rows cannot be told apart"
                    )
                named.update(texts)
                rows = [row for row in rows if row[at] not in seen]
                if rows:
                    yield rows

    def count(self, identities: Identities) -> dict[str, int]:
        """How many rows of each table hold the subject (for find_subject)."""
        counts = {table.name: 0 for table in self.spec.tables}
        for batch in self.search(identities):
            counts[batch.table.name] += len(batch.rows)
        return counts


def _only_theirs(
    conn: Connection, found: sa.Table, column: str, values: Counter[Any], table: TableSpec
) -> None:
    """The link values the subject's rows hold must be theirs alone: a value another row of the
    parent also holds (a shared household or company number, a default of '' or 0) would reach
    that row's children too, and they would be handed over (or erased) as the subject's.
    Empty values link nothing; a primary key is unique by the database's own rule."""
    for empty in (None, ""):
        values.pop(empty, None)
    if not values or [c.name for c in found.primary_key.columns] == [column]:
        return
    keys = sorted(values, key=repr)
    for i in range(0, len(keys), IN_CHUNK):
        chunk = keys[i : i + IN_CHUNK]
        statement = sa.select(sa.func.count()).where(_raw(found.c[column]).in_(chunk))
        if conn.execute(statement).scalar_one() > sum(values[v] for v in chunk):
            raise ForeignRows(
                f"{table.name}.{column}: a value that links to the subject's rows is shared "
                "with other rows, so the rows linked to it cannot be told apart"
            )


def _tuples(result: CursorResult[Any], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """The result's rows as plain tuples, ``size`` at a time, from the same streaming cursor.

    SQLAlchemy's Row objects, and copying each into a tuple, cost ~2 s a million rows (half of
    what reading them from PostgreSQL costs; bench/RESULTS.md). Where no column has a result
    processor (SQLAlchemy's conversion of a driver's value; a search selects none: ``_read``),
    a Row holds exactly the driver's row, so the driver's rows are taken as they come, through
    the result's own fetch strategy: its buffer, its error handling (a statement timeout is
    still SQLAlchemy's OperationalError) and its closing stay SQLAlchemy's. Otherwise, or if
    SQLAlchemy's internals ever change shape, through its Rows."""
    processors = getattr(getattr(result, "_metadata", None), "_processors", None)
    if (
        processors is None
        or not hasattr(result, "cursor_strategy")
        or any(p is not None for p in processors)
    ):
        for part in result.partitions(size):
            yield [tuple(row) for row in part]
        return
    # Strategy and cursor read anew each time: once the rows run out, the result closes its
    # cursor (None) and puts a strategy that fetches nothing in its place.
    while rows := result.cursor_strategy.fetchmany(result, result.cursor, size):
        # psycopg, PyMySQL and sqlite3 hand over lists of tuples; anything else is made one.
        yield rows if type(rows) is list and type(rows[0]) is tuple else list(map(tuple, rows))


def _foreign(table: TableSpec) -> ConnectorError:
    return ForeignRows(f"{table.name}: the system returned a row its link does not lead to")


def _short(error: SQLAlchemyError) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0] if text else ''}"[:500]


@dataclass(frozen=True)
class DatabaseCheck:
    """A systems file held against the database it describes (``load_systems``)."""

    # What the file declares that the database lacks: (where in the system, what), e.g.
    # ("tables[2].columns[3].name", "table 'orders' has no column 'vat'").
    missing: list[tuple[str, str]] = field(default_factory=list)
    # Identity and link columns without an index, or why the database was not checked.
    warnings: list[str] = field(default_factory=list)


def check_database(spec: SystemSpec) -> DatabaseCheck:
    """Every declared table and column (the columns read, the flags a restriction, objection
    or withdrawal sets) looked up in the database, and where a search would read a whole
    table: an identity or link column without an index (an email address needs one on
    lower(column), except on MariaDB/MySQL). One read-only connection; a database that cannot
    be reached is a warning that says so, since the file may be loaded before it exists."""
    result = DatabaseCheck()
    try:
        engine = engine_for(spec)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            for index, table in enumerate(spec.tables):
                missing = _missing(inspector, table, f"tables[{index}]")
                result.missing.extend(missing)
                if not missing:
                    result.warnings.extend(_index_warnings(conn, inspector, table))
    except ConnectorError as error:
        result.warnings.append(f"not checked against the database: {error}")
    except SQLAlchemyError as error:
        result.warnings.append(f"not checked against the database: {_short(error)}")
    return result


def _missing(inspector: Any, table: TableSpec, key: str) -> list[tuple[str, str]]:
    if not inspector.has_table(table.name):
        return [(key, f"the database has no table {table.name!r}")]
    present = {column["name"] for column in inspector.get_columns(table.name)}
    declared = [(f"{key}.columns[{n}].name", c.name) for n, c in enumerate(table.columns)]
    for sub, action in (
        ("restriction", table.restriction),
        ("objection", table.objection),
        ("withdrawal", table.withdrawal),
    ):
        if action is not None and action.column:
            declared.append((f"{key}.{sub}.column", action.column))
    return [
        (where, f"table {table.name!r} has no column {name!r}")
        for where, name in declared
        if name not in present
    ]


def index_warnings(spec: SystemSpec) -> list[str]:
    """Where a search would read a whole table (``check_database``'s warnings)."""
    return check_database(spec).warnings


def _index_warnings(conn: Connection, inspector: Any, table: TableSpec) -> list[str]:
    found: list[str] = []
    lower_needed = conn.dialect.name not in ("mysql", "mariadb")
    indexed, expressions = _indexed(conn, inspector, table.name)
    wanted = list(table.identities.items())
    if table.reached_from:
        wanted.append(("link", table.reached_from.column))
    for kind, column in wanted:
        if kind == "email" and lower_needed:
            ok = f"lower({column.lower()})" in {_bare(e) for e in expressions}
            need = f"lower({column})"
        else:
            ok = column in indexed
            need = column
        if not ok:
            found.append(
                f"table {table.name}: no index on {need}: every search reads the whole table"
            )
    return found


def _bare(expression: str) -> str:
    """An indexed expression without quotes, casts, spaces or doubled parentheses:
    PostgreSQL's "lower((email)::text)" and SQLite's "lower(email)" both read lower(email)."""
    text = re.sub(r'[\s"`]|::\w+', "", expression.lower())
    while "((" in text or "))" in text:
        text = text.replace("((", "(").replace("))", ")")
    return text


def _indexed(conn: Connection, inspector: Any, table: str) -> tuple[set[str], list[str]]:
    """The columns that lead an index (or the primary key), and the expressions indexed."""
    leading: set[str] = set()
    expressions: list[str] = []
    primary = inspector.get_pk_constraint(table).get("constrained_columns") or []
    if primary:
        leading.add(primary[0])
    if conn.dialect.name == "sqlite":
        # SQLAlchemy does not reflect SQLite's expression indexes: read their definitions.
        definitions = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        ).scalars()
        for definition in definitions:
            inside = definition[definition.find("(") + 1 :]
            if inside.lower().lstrip().startswith("lower("):
                expressions.append(inside[: inside.find(")") + 1])  # its first expression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # "skipped expression-based index"
        indexes = inspector.get_indexes(table)
        uniques = inspector.get_unique_constraints(table)
    for index in indexes:
        names = [n for n in index.get("column_names") or [] if n]
        exprs = [e for e in index.get("expressions") or [] if e]
        if names and (not exprs or index["column_names"][0]):
            leading.add(names[0])
        if exprs and not (index.get("column_names") or [None])[0]:
            expressions.append(exprs[0])
    for unique in uniques:
        if unique.get("column_names"):
            leading.add(unique["column_names"][0])
    return leading, expressions
