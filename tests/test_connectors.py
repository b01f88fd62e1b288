"""The fulfilment connectors against real systems, never mocks.

SQL: one shop schema (customers found by email or customer number, orders reached from them,
order lines from the orders, and other people's rows beside the subject's) in a SQLite file, a
PostgreSQL database and a MariaDB database, each test on a database of its own, created and
dropped by the test. HTTP: the demo's stub processor served on a free port, and a misbehaving
server written here (garbage, errors, silence, a body that never ends, another person's rows).
The processors' callback view, with and without a valid signature.

PostgreSQL and MariaDB are skipped where they are not running, and fail the test under
``DSAR_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from sqlalchemy.pool import NullPool

from controllers.policy import normalise
from controllers.systems import KIND_SCHEMAS, SystemSpec, canonical, spec_of, validate_systems
from demo import people
from demo.processor import Dataset, Processor, datasets, serve
from fulfilment.models import Search, SearchStatus
from fulfilment.searches import collect
from fulfilment.systems import jobs
from fulfilment.systems.connectors import sql as sql_connector
from fulfilment.systems.connectors.base import Batch, ConnectorError, ForeignRows
from fulfilment.systems.connectors.http import SIGNATURE, HttpConnector, secret_for, sign, verify
from fulfilment.systems.connectors.sql import SqlSource, engine_for, index_warnings

from .conftest import require_service, tcp_reachable
from .procs import free_port

PASSWORD = "Pw-never-in-a-message-7731"
SHOP_URL_ENV = "DSAR_TEST_SHOP_URL"

# --- Systems files, built as the loader builds them.


def column(name: str) -> dict[str, Any]:
    return {"name": name, "category": "Account"}


def system_spec(system: dict[str, Any]) -> SystemSpec:
    """One system's typed spec, through the loader's own steps: normalise, validate, canonical."""
    data = normalise({"schema": 1, "controller": "test-shop", "systems": [system]})
    validate_systems(data, "test-shop.toml")
    item = data["systems"][0]
    return spec_of(canonical(item, KIND_SCHEMAS[item["kind"]]))


# Declared in an order the links must put right (order lines first), and the customers' columns
# in another order than the database's.
SHOP_TABLES = [
    {
        "name": "order_lines",
        "key": "id",
        "reached_from": {"table": "orders", "column": "order_id", "parent_column": "id"},
        "columns": [column("id"), column("order_id"), column("product"), column("quantity")],
    },
    {
        "name": "customers",
        "key": "id",
        "identities": {"email": "email", "customer_number": "customer_number"},
        "columns": [column("email"), column("id"), column("name"), column("customer_number")],
    },
    {
        "name": "orders",
        "key": "id",
        "reached_from": {"table": "customers", "column": "customer_id", "parent_column": "id"},
        "columns": [column("id"), column("customer_id"), column("placed_on")],
    },
]


def sql_spec(tables: list[dict[str, Any]] | None = None, timeout: int = 30) -> SystemSpec:
    return system_spec(
        {
            "name": "shop",
            "title": "Webshop",
            "kind": "sql",
            "url_env": SHOP_URL_ENV,
            "timeout_seconds": timeout,
            "tables": tables or SHOP_TABLES,
        }
    )


# --- The shop's rows: the subject (Sanne, two accounts under one address in two spellings)
# and other people, among them an address that merely begins with hers and a walk-in customer
# with neither address nor customer number.

CUSTOMERS = [
    (1, "C-1001", "Sanne Jansen", "Sanne.Jansen@Example.org"),
    (2, "C-1002", "Piet de Vries", "piet@example.org"),
    (3, "C-1003", "Sanne Jansen", "sanne.jansen@example.org"),
    (4, "C-1004", "Eva Smit", "sanne.jansen@example.org.evil.example"),
    (5, "C-1005", "Jan Jansen", "jansen@example.org"),
    (6, "", "Walk-in customer", ""),
]
ORDERS = [
    (10, 1, "2025-01-02"),
    (11, 1, "2025-02-03"),
    (12, 2, "2025-02-04"),
    (13, 3, "2025-03-05"),
    (14, 4, "2025-03-06"),
    (15, 5, "2025-04-07"),
    (16, 6, "2025-04-08"),
]
LINES = [
    (100, 10, "Mok", 2),
    (101, 10, "Poster", 1),
    (102, 11, "Fotoboek", 1),
    (103, 12, "Kalender", 1),
    (104, 13, "Canvas", 1),
    (105, 14, "Mok", 1),
    (106, 15, "Poster", 3),
    (107, 16, "Mok", 1),
]


def hash_of(customer_id: int) -> str:
    return f"pbkdf2-secret-hash-{customer_id}"


def expected(customer_ids: set[int]) -> dict[str, list[tuple]]:
    """The rows a search for these customers must return, in declared column order."""
    customers = [c for c in CUSTOMERS if c[0] in customer_ids]
    orders = [o for o in ORDERS if o[1] in customer_ids]
    order_ids = {o[0] for o in orders}
    return {
        "customers": [(email, id_, name, number) for id_, number, name, email in customers],
        "orders": orders,
        "order_lines": [line for line in LINES if line[1] in order_ids],
    }


def gathered(batches: Iterable[Batch]) -> tuple[list[str], dict[str, list[tuple]]]:
    """The table of each batch in the order they came, and every table's rows."""
    order: list[str] = []
    rows: dict[str, list[tuple]] = {"customers": [], "orders": [], "order_lines": []}
    for batch in batches:
        order.append(batch.table.name)
        rows.setdefault(batch.table.name, []).extend(tuple(row) for row in batch.rows)
    return order, rows


# --- Databases: one per test, of its own.


@dataclass
class Db:
    dialect: str  # sqlite, postgresql, mariadb
    url: str  # what the connector is given (no driver: it picks its own)
    admin: sa.Engine  # writable, for the test's own setup

    def run(self, *statements: str) -> None:
        with self.admin.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def insert(self, table: str, columns: str, rows: Iterable[tuple]) -> None:
        names = [name.strip() for name in columns.split(",")]
        statement = sa.text(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + n for n in names)})"  # noqa: S608 - the test's own names
        )
        with self.admin.begin() as conn:
            conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])

    def count(self, table: str) -> int:
        with self.admin.connect() as conn:
            return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()  # noqa: S608


def _pg_server() -> sa.URL:
    url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    parsed = sa.make_url(re.sub(r"^postgres://", "postgresql://", url))
    if parsed.get_backend_name() != "postgresql":
        parsed = sa.make_url("postgresql://postgres@127.0.0.1:5432/postgres")
    return parsed.set(drivername="postgresql+psycopg", database="postgres")


MARIADB_SERVER = sa.make_url("mysql+pymysql://root@127.0.0.1:3306/")


@contextlib.contextmanager
def database(dialect: str, tmp_path: Path, worker_id: str) -> Iterator[Db]:
    if dialect == "sqlite":
        path = tmp_path / "shop.sqlite3"
        sqlite3.connect(path).close()
        admin = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
        try:
            yield Db(dialect, f"sqlite:///{path}", admin)
        finally:
            admin.dispose()
        return
    name = f"dsar_conn_{worker_id}_{secrets.token_hex(4)}"
    if dialect == "postgresql":
        server_url = _pg_server()
        where = f"postgresql://{server_url.host}:{server_url.port or 5432}"
        require_service(tcp_reachable(where, 5432), f"PostgreSQL at {where} is not reachable")
        create = f'CREATE DATABASE "{name}"'
        drops = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']
        url = server_url.set(drivername="postgresql", database=name)
    else:
        server_url = MARIADB_SERVER
        where = f"mysql://{server_url.host}:{server_url.port}"
        require_service(tcp_reachable(where, 3306), f"MariaDB at {where} is not reachable")
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        drops = [f"DROP DATABASE IF EXISTS `{name}`"]
        url = server_url.set(drivername="mysql", database=name)
    server = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as conn:
        conn.exec_driver_sql(create)
    admin = sa.create_engine(url.set(drivername=server_url.drivername), poolclass=NullPool)
    try:
        yield Db(dialect, url.render_as_string(hide_password=False), admin)
    finally:
        admin.dispose()
        with server.connect() as conn:
            if dialect == "mariadb":
                # A query cut off on the client still runs on the server: end it, or the drop
                # waits for it.
                ids = conn.exec_driver_sql(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = %s AND id <> CONNECTION_ID()",
                    (name,),
                ).scalars()
                for thread in list(ids):
                    with contextlib.suppress(sa.exc.SQLAlchemyError):
                        conn.exec_driver_sql(f"KILL {int(thread)}")
            for statement in drops:
                conn.exec_driver_sql(statement)
        server.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shop(request, tmp_path, worker_id, monkeypatch) -> Iterator[Db]:
    with database(request.param, tmp_path, worker_id) as found:
        monkeypatch.setenv(SHOP_URL_ENV, found.url)
        yield found


@pytest.fixture
def pg(tmp_path, worker_id, monkeypatch) -> Iterator[Db]:
    with database("postgresql", tmp_path, worker_id) as found:
        monkeypatch.setenv(SHOP_URL_ENV, found.url)
        yield found


@pytest.fixture
def maria(tmp_path, worker_id, monkeypatch) -> Iterator[Db]:
    with database("mariadb", tmp_path, worker_id) as found:
        monkeypatch.setenv(SHOP_URL_ENV, found.url)
        yield found


def build_shop(db: Db) -> None:
    """The shop's tables, indexed as a search needs, and its rows. The customer number is
    compared case-insensitively by each database (as many a legacy column is)."""
    case_insensitive = {
        "sqlite": "COLLATE NOCASE",
        "postgresql": "COLLATE case_insensitive",
        "mariadb": "",  # the database's utf8mb4_general_ci already is
    }[db.dialect]
    email_index = "email" if db.dialect == "mariadb" else "lower(email)"
    if db.dialect == "postgresql":
        db.run(
            "CREATE COLLATION case_insensitive "
            "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
        )
    db.run(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, "
        f"customer_number VARCHAR(20) {case_insensitive}, name VARCHAR(100), "
        "email VARCHAR(200), password_hash VARCHAR(100))",
        f"CREATE INDEX customers_email ON customers ({email_index})",
        "CREATE INDEX customers_number ON customers (customer_number)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, placed_on VARCHAR(10))",
        "CREATE INDEX orders_customer ON orders (customer_id)",
        "CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER, "
        "product VARCHAR(100), quantity INTEGER)",
        "CREATE INDEX order_lines_order ON order_lines (order_id)",
    )
    db.insert(
        "customers",
        "id, customer_number, name, email, password_hash",
        [(*customer, hash_of(customer[0])) for customer in CUSTOMERS],
    )
    db.insert("orders", "id, customer_id, placed_on", ORDERS)
    db.insert("order_lines", "id, order_id, product, quantity", LINES)


def drop_index(db: Db, name: str, table: str) -> None:
    db.run(f"DROP INDEX {name} ON {table}" if db.dialect == "mariadb" else f"DROP INDEX {name}")


# --- SQL: what a search returns.


def test_sql_search_by_email_returns_exactly_the_subjects_rows_parents_first(shop, monkeypatch):
    """Case and surrounding blanks of the address do not matter; the subject's two accounts,
    their orders and those orders' lines come back, in small batches and chunked IN lists, and
    nothing of the lookalike addresses, of other customers, or of undeclared columns."""
    build_shop(shop)
    monkeypatch.setattr(sql_connector, "IN_CHUNK", 2)  # the order lines need two IN (...)
    source = SqlSource(sql_spec(), batch_size=2)
    order, rows = gathered(source.search({"email": "  SANNE.jansen@EXAMPLE.org "}))

    assert rows == expected({1, 3})
    assert order == sorted(order, key=["customers", "orders", "order_lines"].index)
    assert order.count("orders") == 2 and order.count("order_lines") == 3  # batches of two
    everything = repr(rows)
    assert not any(hash_of(c[0]) in everything for c in CUSTOMERS)


def test_sql_search_by_customer_number_and_count(shop):
    """A customer number finds its own customer only (exact text, not a prefix); two
    identities of two people find both; nobody's identities find nothing."""
    build_shop(shop)
    source = SqlSource(sql_spec())
    assert gathered(source.search({"customer_number": "C-1002"}))[1] == expected({2})
    assert gathered(source.search({"customer_number": "C-100"}))[1] == expected(set())
    both = {"email": "piet@example.org", "customer_number": "C-1005"}
    assert gathered(source.search(both))[1] == expected({2, 5})
    assert source.count({"email": "Sanne.Jansen@example.org"}) == {
        "order_lines": 4,
        "customers": 2,
        "orders": 3,
    }
    assert source.count({"email": "nobody@example.org", "phone": "+31 6 1"}) == {
        "order_lines": 0,
        "customers": 0,
        "orders": 0,
    }


def test_sql_blank_identities_find_nobody(shop):
    """A blank address or customer number is no identity: the walk-in customer, whose columns
    are empty, is not returned as the subject."""
    build_shop(shop)
    source = SqlSource(sql_spec())
    found = gathered(source.search({"email": "  ", "customer_number": ""}))[1]
    assert found == expected(set())
    found = gathered(source.search({"email": "piet@example.org", "customer_number": " "}))[1]
    assert found == expected({2})


def test_sql_a_row_the_database_matches_but_with_another_identity_raises_foreign_rows(shop):
    """The customer number column compares case-insensitively in the database, the connector
    compares customer numbers exactly: another customer's "c-1002" comes back for "C-1002",
    and the search fails before handing on any of that table's rows."""
    build_shop(shop)
    shop.insert(
        "customers",
        "id, customer_number, name, email, password_hash",
        [(7, "c-1002", "Someone Else", "else@example.org", hash_of(7))],
    )
    handed_on: list[Batch] = []
    with pytest.raises(ForeignRows, match="customers: the system returned a row"):
        for batch in SqlSource(sql_spec()).search({"customer_number": "C-1002"}):
            handed_on.append(batch)
    assert handed_on == []


def test_sql_session_is_read_only(shop):
    """The connector's own connection cannot write, whatever the database account could."""
    build_shop(shop)
    with engine_for(sql_spec()).connect() as conn, pytest.raises(sa.exc.SQLAlchemyError):
        conn.exec_driver_sql(
            "INSERT INTO customers (id, customer_number, name, email) "
            "VALUES (99, 'C-9999', 'Intruder', 'x@example.org')"
        )
        conn.commit()
    assert shop.count("customers") == len(CUSTOMERS)


def test_sql_index_warnings_name_the_missing_indexes_and_only_those(shop):
    build_shop(shop)
    spec = sql_spec()
    assert index_warnings(spec) == []
    drop_index(shop, "customers_email", "customers")
    drop_index(shop, "orders_customer", "orders")
    email = "email" if shop.dialect == "mariadb" else "lower(email)"
    assert index_warnings(spec) == [
        f"table customers: no index on {email}: every search reads the whole table",
        "table orders: no index on customer_id: every search reads the whole table",
    ]
    if shop.dialect != "mariadb":
        # An index on the bare column does not serve lower(email) = ...
        shop.run("CREATE INDEX customers_email_plain ON customers (email)")
        assert index_warnings(spec)[0].startswith("table customers: no index on lower(email)")


def test_sql_a_missing_table_or_column_is_a_connector_error_naming_it(shop):
    build_shop(shop)
    orders = {**SHOP_TABLES[2], "columns": [*SHOP_TABLES[2]["columns"], column("shipped")]}
    tables = [*SHOP_TABLES[:2], orders]
    with pytest.raises(ConnectorError, match="table 'orders' has no column 'shipped'"):
        list(SqlSource(sql_spec(tables)).search({"email": "piet@example.org"}))
    tables = [{**SHOP_TABLES[1], "name": "clients"}]
    with pytest.raises(ConnectorError, match="the database has no table 'clients'"):
        list(SqlSource(sql_spec(tables)).search({"email": "piet@example.org"}))


# --- SQL: PostgreSQL and MariaDB in particular.


def _statements_during(action) -> list[tuple[str, Any]]:
    """The shop's SELECTs that a real engine sent while ``action`` ran, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if re.search(r"\bFROM (customers|orders|order_lines)\b", statement):
            sent.append((statement, parameters))

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    return sent


def _plan(db: Db, statement: str, parameters: Any) -> str:
    raw = db.admin.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()


def test_postgresql_lookups_use_indexes_and_a_missing_one_is_reported(pg):
    """EXPLAIN of the very statements the connector sent: with the shop's indexes and
    thousands of other people, no table is read whole; without the index on lower(email) the
    identity lookup is a sequential scan, and index_warnings says so beforehand."""
    build_shop(pg)
    pg.run(
        "INSERT INTO customers SELECT n, 'C-' || n, 'Person ' || n, "
        "'person' || n || '@example.com', 'x' FROM generate_series(1000, 5999) n",
        "INSERT INTO orders SELECT n, n - 9000, '2025-01-01' FROM generate_series(10000, 14999) n",
        "INSERT INTO order_lines SELECT n, n - 90000, 'Mok', 1 "
        "FROM generate_series(100000, 104999) n",
        "ANALYZE",
    )
    spec = sql_spec()
    found: list[Batch] = []
    sent = _statements_during(
        lambda: found.extend(SqlSource(spec).search({"email": "sanne.jansen@example.org"}))
    )
    assert gathered(found)[1] == expected({1, 3})
    assert [re.search(r"FROM (\w+)", s).group(1) for s, _ in sent] == [
        "customers",
        "orders",
        "order_lines",
    ]
    for statement, parameters in sent:
        plan = _plan(pg, statement, parameters)
        assert "Seq Scan" not in plan and "Index" in plan, plan
    assert index_warnings(spec) == []

    drop_index(pg, "customers_email", "customers")
    pg.run("ANALYZE customers")
    assert "Seq Scan on customers" in _plan(pg, *sent[0])
    assert index_warnings(spec) == [
        "table customers: no index on lower(email): every search reads the whole table"
    ]


def test_postgresql_cursor_plans_a_linked_table_s_chunk_with_the_index_on_its_link(pg):
    """The rows stream from a server-side cursor, which PostgreSQL plans for a tenth of its
    rows unless told otherwise (cursor_tuple_fraction): for a linked table's "IN (1000 values)
    ORDER BY id" it then walked the whole primary key and filtered every row, a scan of the
    table for every chunk (bench/RESULTS.md). EXPLAIN DECLARE of the connector's own chunk
    query, on a connection engine_for made (so with the connector's settings), uses the index
    on the link; the same under PostgreSQL's default fraction shows the walk this test guards
    against, so the data here does provoke it."""
    build_shop(pg)
    # The subject has 2,000 orders of one line each, among 200,000 other people's lines.
    pg.run(
        "INSERT INTO orders SELECT n, 1, '2025-01-01' FROM generate_series(20000, 21999) n",
        "INSERT INTO order_lines SELECT n, n - 980000, 'Mok', 1 "
        "FROM generate_series(1000000, 1001999) n",
        "INSERT INTO orders SELECT n, 2, '2025-01-01' FROM generate_series(30000, 229999) n",
        "INSERT INTO order_lines SELECT n, n - 1970000, 'Poster', 1 "
        "FROM generate_series(2000000, 2199999) n",
        "ANALYZE",
    )
    spec = sql_spec()
    found: list[Batch] = []
    sent = _statements_during(
        lambda: found.extend(SqlSource(spec).search({"email": "sanne.jansen@example.org"}))
    )
    assert len(gathered(found)[1]["order_lines"]) == 2000 + len(expected({1, 3})["order_lines"])
    chunks = [(s, p) for s, p in sent if re.search(r"FROM order_lines\b", s)]
    assert len(chunks) == 3  # 2,005 orders in chunks of IN_CHUNK (1,000)
    statement, parameters = chunks[0]

    def plan(conn: sa.Connection) -> str:
        rows = conn.exec_driver_sql("EXPLAIN DECLARE c CURSOR FOR " + statement, parameters)
        return "\n".join(row[0] for row in rows)

    with engine_for(spec).connect() as conn:
        assert conn.exec_driver_sql("SHOW cursor_tuple_fraction").scalar_one() == "1"
        connector_plan = plan(conn)
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 0.1")  # PostgreSQL's default
        default_plan = plan(conn)
    assert "order_lines_order" in connector_plan, connector_plan
    assert "order_lines_pkey" not in connector_plan and "Seq Scan" not in connector_plan
    assert "Index Scan using order_lines_pkey" in default_plan, default_plan


def test_sql_values_come_back_as_the_database_holds_them_not_as_sqlalchemy_converts(
    tmp_path, monkeypatch
):
    """A SQLite DATETIME, DECIMAL or BOOLEAN column holds text, a REAL and integers: they come
    back so, as the driver's plain tuples, not as SQLAlchemy's datetime, Decimal('12.50') (made
    from the REAL 12.5 with the declared scale; ten decimals without one) and True
    (tests/test_values.py follows every type into the package)."""
    path = tmp_path / "typed.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE visits (id INTEGER PRIMARY KEY, email VARCHAR(200), at DATETIME, "
            "amount DECIMAL(10, 2), paid BOOLEAN)"
        )
        conn.execute("CREATE INDEX visits_email ON visits (lower(email))")
        conn.executemany(
            "INSERT INTO visits VALUES (?, ?, ?, ?, ?)",
            [
                (1, "Sanne@Example.org", "2025-01-02 03:04:05.000006", "12.50", 1),
                (2, "sanne@example.org", None, None, 0),
                (3, "piet@example.org", "2025-02-03 00:00:00", "1.00", 1),
            ],
        )
    monkeypatch.setenv(SHOP_URL_ENV, f"sqlite:///{path}")
    names = ["id", "email", "at", "amount", "paid"]
    spec = sql_spec(
        [
            {
                "name": "visits",
                "key": "id",
                "identities": {"email": "email"},
                "columns": [column(name) for name in names],
            }
        ]
    )
    _, rows = gathered(SqlSource(spec, batch_size=1).search({"email": "sanne@example.org"}))
    assert rows["visits"] == [
        (1, "Sanne@Example.org", "2025-01-02 03:04:05.000006", 12.5, 1),
        (2, "sanne@example.org", None, None, 0),
    ]
    assert [type(value) for value in rows["visits"][0]] == [int, str, str, float, int]
    assert all(type(row) is tuple for row in rows["visits"])


def test_check_rows_compares_each_value_as_its_text(monkeypatch):
    """check_rows normalises each distinct value of a batch once; equal values whose texts
    differ (1 and 1.0, True and 1) are still told apart, as row by row, and a row passes if
    any of the subject's identities is in its column."""
    from fulfilment.systems.connectors.base import check_rows

    spec = sql_spec(
        [
            {
                "name": "accounts",
                "key": "id",
                "identities": {"email": "email", "customer_number": "number"},
                "columns": [column("id"), column("email"), column("number")],
            }
        ]
    )
    table = spec.tables[0]
    subject = {"email": " Sanne@Example.org", "customer_number": "1"}
    check_rows(table, [(1, "sanne@example.ORG", None), (2, None, 1), (3, "x", "1")], subject)
    check_rows(table, iter([(1, "SANNE@example.org ", 2)]), subject)  # any iterable
    check_rows(table, [(1, "sanne@example.org", ["x"]), (2, ["unhashable"], "1")], subject)
    for foreign in [(9, "x", 1.0), (9, "x", True), (9, "x", None), (9, ["x"], [1])]:
        with pytest.raises(ForeignRows, match="accounts: the system returned a row"):
            check_rows(table, [(1, "x", 1), foreign], subject)  # a set holds one of 1 and 1.0
    with pytest.raises(ForeignRows):  # a blank identity is none: nothing matches
        check_rows(table, [(1, "", "")], {"email": " ", "customer_number": ""})
    check_rows(table, [], {"email": ""})


def _search_times_out(db: Db, view: str, message: str) -> None:
    """A view that sleeps 30 s is cut off at the system's 1 s timeout, with a clear error. The
    bound on the time taken is generous (a loaded machine runs late) and still far below the
    sleep, so only the timeout can meet it. (Not longer: MariaDB finishes the abandoned SLEEP
    before the test's database can be dropped.)"""
    build_shop(db)
    db.run(f"CREATE VIEW slow_customers AS SELECT id, email FROM customers WHERE {view}")  # noqa: S608 (the test's own SQL)
    spec = sql_spec(
        [
            {
                "name": "slow_customers",
                "key": "id",
                "identities": {"email": "email"},
                "columns": [column("id"), column("email")],
            }
        ],
        timeout=1,
    )
    started = time.monotonic()
    with pytest.raises(ConnectorError, match=message):
        list(SqlSource(spec).search({"email": "piet@example.org"}))
    assert time.monotonic() - started < 15


def test_postgresql_statement_timeout_cuts_off_a_slow_query(pg):
    _search_times_out(pg, "(SELECT 1 FROM pg_sleep(30)) = 1", "statement timeout")


def test_mariadb_slow_query_is_cut_off_by_the_read_timeout(maria):
    _search_times_out(maria, "SLEEP(30) = 0", "timed out")


def test_mariadb_accent_insensitive_match_of_another_address_raises_foreign_rows(maria):
    """utf8mb4_general_ci holds "sänne" equal to "sanne": the database hands over another
    person's account, and the connector refuses the search."""
    build_shop(maria)
    maria.insert(
        "customers",
        "id, customer_number, name, email, password_hash",
        [(8, "C-1008", "Sänne Janßen", "sänne.jansen@example.org", hash_of(8))],
    )
    with pytest.raises(ForeignRows):
        list(SqlSource(sql_spec()).search({"email": "sanne.jansen@example.org"}))


def test_mariadb_link_value_equal_only_as_a_number_raises_foreign_rows(maria):
    """A legacy VARCHAR reference compared with the customers' integer ids: MariaDB finds
    "1abc" equal to 1, but that note is not customer 1's, and the connector says so."""
    build_shop(maria)
    maria.run(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, customer_ref VARCHAR(20), body TEXT)",
        "CREATE INDEX notes_ref ON notes (customer_ref)",
    )
    maria.insert("notes", "id, customer_ref, body", [(1, "1abc", "another customer's note")])
    tables = [
        *SHOP_TABLES,
        {
            "name": "notes",
            "key": "id",
            "reached_from": {"table": "customers", "column": "customer_ref", "parent_column": "id"},
            "columns": [column("id"), column("customer_ref"), column("body")],
        },
    ]
    with pytest.raises(ForeignRows, match="notes: the system returned a row its link"):
        list(SqlSource(sql_spec(tables)).search({"email": "sanne.jansen@example.org"}))


@pytest.mark.parametrize("dialect", ["sqlite", "mariadb"])  # PostgreSQL refuses int = text
def test_a_text_column_linked_to_an_integer_key_finds_the_subject_s_rows(
    dialect, tmp_path, worker_id, monkeypatch
):
    """The same link written as 1 and '1' (a legacy VARCHAR reference): the subject's row is
    hers, not a foreign row (MariaDB's '1abc' = 1 stays foreign: the test above)."""
    with database(dialect, tmp_path, worker_id) as shop:
        monkeypatch.setenv(SHOP_URL_ENV, shop.url)
        _text_link(shop)


def _text_link(shop: Db) -> None:
    build_shop(shop)
    shop.run("CREATE TABLE notes (id INTEGER PRIMARY KEY, customer_ref VARCHAR(20), body TEXT)")
    # Customer 1 is the subject, customer 2 is not.
    shop.insert("notes", "id, customer_ref, body", [(1, "1", "her note"), (2, "2", "his note")])
    tables = [
        *SHOP_TABLES,
        {
            "name": "notes",
            "key": "id",
            "reached_from": {"table": "customers", "column": "customer_ref", "parent_column": "id"},
            "columns": [column("id"), column("customer_ref"), column("body")],
        },
    ]
    _, found = gathered(SqlSource(sql_spec(tables)).search({"email": "sanne.jansen@example.org"}))
    assert [row[2] for row in found["notes"]] == ["her note"]


def test_a_postgres_scheme_url_is_understood(pg, monkeypatch):
    """postgres:// is how many hosting providers write DATABASE_URL."""
    build_shop(pg)
    monkeypatch.setenv(SHOP_URL_ENV, pg.url.replace("postgresql://", "postgres://", 1))
    counts = SqlSource(sql_spec()).count({"email": "sanne.jansen@example.org"})
    assert counts["customers"] > 0


# --- SQL: systems that cannot be searched.


def _assert_short_and_secret(error: ConnectorError) -> None:
    text = str(error)
    assert PASSWORD not in text
    assert "\n" not in text and 0 < len(text) <= 500


@pytest.mark.parametrize("scheme", ["postgresql", "mysql", "mariadb+pymysql"])
def test_sql_unreachable_database_is_a_short_connector_error_without_the_password(
    scheme, monkeypatch
):
    monkeypatch.setenv(SHOP_URL_ENV, f"{scheme}://shop:{PASSWORD}@127.0.0.1:{free_port()}/shop")
    # Refused at once, not waited out: the bound is far below the 30 s connect timeout.
    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        list(SqlSource(sql_spec(timeout=30)).search({"email": "piet@example.org"}))
    assert time.monotonic() - started < 15
    _assert_short_and_secret(caught.value)
    assert re.search(r"refused|connect", str(caught.value), re.IGNORECASE)
    (warning,) = index_warnings(sql_spec())
    assert warning.startswith("not checked against the database: ") and PASSWORD not in warning


def test_sql_wrong_password_or_unknown_database_is_a_connector_error_without_the_password(
    monkeypatch,
):
    pg_server = _pg_server()
    targets = [
        (
            f"postgresql://{pg_server.username}:{PASSWORD}@{pg_server.host}:{pg_server.port}"
            "/dsar_no_such_database",
            'database "dsar_no_such_database" does not exist',
        ),
        (f"mysql://root:{PASSWORD}@127.0.0.1:3306/mysql", "Access denied for user 'root'"),
        ("mysql://root@127.0.0.1:3306/dsar_no_such_database", "Unknown database"),
    ]
    for url, fault in targets:
        port = 5432 if url.startswith("postgresql") else 3306
        require_service(tcp_reachable(url, port), f"{url.split(':')[0]} server not reachable")
        monkeypatch.setenv(SHOP_URL_ENV, url)
        with pytest.raises(ConnectorError) as caught:
            list(SqlSource(sql_spec()).search({"email": "piet@example.org"}))
        _assert_short_and_secret(caught.value)
        assert fault in str(caught.value)


def test_sql_missing_file_garbage_file_and_bad_settings_are_connector_errors(tmp_path, monkeypatch):
    spec = sql_spec()
    source = SqlSource(spec)
    identities = {"email": "piet@example.org"}
    monkeypatch.delenv(SHOP_URL_ENV, raising=False)
    with pytest.raises(ConnectorError, match=f"the environment variable {SHOP_URL_ENV}"):
        list(source.search(identities))
    monkeypatch.setenv(SHOP_URL_ENV, "a database, somewhere")
    with pytest.raises(ConnectorError, match="is not a database URL"):
        list(source.search(identities))
    monkeypatch.setenv(SHOP_URL_ENV, "oracle://shop@127.0.0.1/shop")
    with pytest.raises(ConnectorError, match="unsupported database 'oracle'"):
        list(source.search(identities))
    missing = tmp_path / "gone.sqlite3"
    monkeypatch.setenv(SHOP_URL_ENV, f"sqlite:///{missing}")
    with pytest.raises(ConnectorError, match="no SQLite database at"):
        list(source.search(identities))
    assert not missing.exists()  # not created empty by looking
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database\n" * 100)
    monkeypatch.setenv(SHOP_URL_ENV, f"sqlite:///{garbage}")
    with pytest.raises(ConnectorError, match="not a database"):
        list(source.search(identities))


# --- HTTP: servers.


def http_spec(timeout: int = 30, tables: list[dict[str, Any]] | None = None) -> SystemSpec:
    return system_spec(
        {
            "name": "maillog",
            "title": "Mail log",
            "kind": "http",
            "url_env": "DSAR_TEST_PROCESSOR_URL",
            "secret_env": "DSAR_TEST_PROCESSOR_SECRET",
            "timeout_seconds": timeout,
            "tables": tables
            or [
                {
                    "name": "deliveries",
                    "key": "id",
                    "identities": {"email": "recipient"},
                    "columns": [column("id"), column("recipient"), column("sender")],
                },
                {
                    "name": "logins",
                    "key": "id",
                    "identities": {"email": "account_email"},
                    "columns": [column("id"), column("account_email"), column("browser")],
                },
            ],
        }
    )


SECRET = "processor-signing-key-for-the-test"
SUBJECT_EMAIL = "sanne.jansen@example.org"


def _serve_in_thread(server: Any) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread


class Recorder(http.server.ThreadingHTTPServer):
    """Where a processor's callbacks go: keeps each (body, signature)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.received: list[tuple[bytes, str]] = []
        self.arrived = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/callback"


class _RecorderHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((body, self.headers.get(SIGNATURE, "")))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.arrived.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    _serve_in_thread(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with running(Recorder()) as server:
        yield server


def start_processor(datasets: dict[str, Dataset], folder: Path, delay: float) -> tuple[Any, str]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    app = Processor(datasets, folder / "processor-requests.sqlite3", public, delay)
    return serve(app, "127.0.0.1", port), public


OTHER_EMAILS = ["piet@example.org", "sanne.jansen@example.org.evil.example", "jansen@example.org"]


@pytest.fixture
def processor(tmp_path, monkeypatch) -> Iterator[str]:
    """The demo's stub processor with a dataset of its own: 1,200 deliveries to the subject
    (more than one batch), two logins, and other people's rows; its base URL."""
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", SECRET)
    spec = http_spec()
    path = tmp_path / "processor-maillog.sqlite3"
    data = sqlite3.connect(path)
    data.executescript(
        "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, recipient TEXT, sender TEXT, "
        "secret_note TEXT);"
        "CREATE TABLE logins (id INTEGER PRIMARY KEY, account_email TEXT, browser TEXT);"
    )
    spellings = ["Sanne.Jansen@Example.org", SUBJECT_EMAIL]
    data.executemany(
        "INSERT INTO deliveries VALUES (?, ?, ?, 'internal')",
        [(n, spellings[n % 2], f"Sender {n}") for n in range(1, 1201)]
        + [(2000 + n, email, "Other") for n, email in enumerate(OTHER_EMAILS)],
    )
    data.executemany(
        "INSERT INTO logins VALUES (?, ?, ?)",
        [(1, SUBJECT_EMAIL, "Firefox"), (2, "piet@example.org", "Edge"), (3, spellings[0], "")],
    )
    data.commit()
    data.close()
    dataset = Dataset("maillog", spec, secret_for(spec), path)
    # Long enough that the test's status call, right after the submit, finds the request still
    # pending on a machine busy with other work (0.3 s did not, under a load of 20).
    server, public = start_processor({"maillog": dataset}, tmp_path, delay=2.0)
    with running(server):
        base = f"{public}/maillog"
        monkeypatch.setenv("DSAR_TEST_PROCESSOR_URL", base)
        yield base


def wait_until_completed(source: HttpConnector, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60  # the processor's 2 s, on a machine that may be busy
    while time.monotonic() < deadline:
        answer = source.status(request_id)
        if answer["request_status"] == "completed":
            return answer
        time.sleep(0.05)
    raise AssertionError("the processor never completed the request")


# --- HTTP: the demo processor.


def test_http_round_trip_with_the_demo_processor_returns_only_the_subjects_rows(
    processor, recorder
):
    """Submit (signed), pending, then completed with a results URL on its own address and a
    signed callback; the results are the subject's 1,200 deliveries (two batches) and two
    logins, every spelling of her address, nobody else's, and no undeclared column."""
    source = HttpConnector(http_spec())
    request_id = str(uuid.uuid4())
    identities = {"email": "SANNE.jansen@example.org"}
    answer = source.submit(
        request_id=request_id, kind="access", identities=identities, callback_url=recorder.url
    )
    assert answer["request_status"] == "pending"
    assert answer["subject_request_id"] == request_id
    assert source.status(request_id)["request_status"] == "pending"

    answer = wait_until_completed(source, request_id)
    url = answer["results_url"]
    assert url.startswith(processor.rsplit("/", 1)[0] + "/")
    assert recorder.arrived.wait(5)
    (body, signature), *_ = recorder.received
    assert verify(SECRET.encode(), body, signature)
    assert not verify(b"another key", body, signature)
    assert orjson.loads(body) == {
        "subject_request_id": request_id,
        "request_status": "completed",
        "results_url": url,
    }

    batches = list(source.results(url, identities))
    assert [(b.table.name, len(b.rows)) for b in batches] == [
        ("deliveries", 1000),
        ("deliveries", 200),
        ("logins", 2),
    ]
    deliveries = [row for b in batches if b.table.name == "deliveries" for row in b.rows]
    assert [row[0] for row in deliveries] == list(range(1, 1201))
    assert {row[1].lower() for row in deliveries} == {SUBJECT_EMAIL}
    assert all(len(row) == 3 for row in deliveries)  # id, recipient, sender: no secret_note
    assert [tuple(row) for row in batches[-1].rows] == [
        (1, SUBJECT_EMAIL, "Firefox"),
        (3, "Sanne.Jansen@Example.org", ""),
    ]

    # Asking again under the same name is asking once.
    again = source.submit(
        request_id=request_id, kind="access", identities=identities, callback_url=recorder.url
    )
    assert again["subject_request_id"] == request_id
    assert source.status(request_id)["request_status"] == "completed"


def test_http_the_processor_refuses_a_request_signed_with_another_key(processor, monkeypatch):
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", "not the processor's key")
    source = HttpConnector(http_spec())
    with pytest.raises(ConnectorError, match="HTTP 403"):
        source.submit(
            request_id=str(uuid.uuid4()),
            kind="access",
            identities={"email": SUBJECT_EMAIL},
            callback_url="",
        )
    with pytest.raises(ConnectorError, match="HTTP 403"):
        source.status(str(uuid.uuid4()))
    unsigned = httpx.post(f"{processor}/opendsr/v1/requests", content=b"{}", timeout=30)
    assert unsigned.status_code == 403


def test_http_sign_verify_and_secret_for(monkeypatch, settings):
    body = b'{"subject_request_id": "1"}'
    signature = sign(b"key", body)
    assert re.fullmatch(r"[0-9a-f]{64}", signature)
    assert verify(b"key", body, signature)
    assert verify(b"key", body, f"  {signature}\n")
    assert not verify(b"key", body + b" ", signature)
    assert not verify(b"other", body, signature)
    assert not verify(b"key", body, "")
    assert not verify(b"key", body, signature.upper())

    spec = http_spec()
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", "from-the-environment")
    assert secret_for(spec) == b"from-the-environment"
    monkeypatch.delenv("DSAR_TEST_PROCESSOR_SECRET")
    settings.DEMO = True
    derived = secret_for(spec)
    assert derived == secret_for(spec) and len(derived) == 64
    assert settings.SECRET_KEY.encode() not in derived
    other = system_spec(
        {
            "name": "other",
            "title": "Other",
            "kind": "http",
            "url_env": "DSAR_TEST_PROCESSOR_URL",
            "secret_env": "DSAR_TEST_OTHER_SECRET",
            "tables": [
                {
                    "name": "t",
                    "key": "id",
                    "identities": {"email": "email"},
                    "columns": [column("id"), column("email")],
                }
            ],
        }
    )
    assert secret_for(other) != derived  # each system its own key
    settings.DEMO = False
    with pytest.raises(ConnectorError, match="DSAR_TEST_PROCESSOR_SECRET is not set"):
        secret_for(spec)


# --- HTTP: a processor that misbehaves.


class Garbage(http.server.ThreadingHTTPServer):
    """A processor gone wrong. The first segment of the path picks how: the connector's base
    URL is ``http://127.0.0.1:<port>/<behaviour>``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GarbageHandler)
        self.hits: list[tuple[str, str, bytes, str]] = []
        self.stop = threading.Event()

    def base(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/{behaviour}"


def row(table: str, **values: Any) -> bytes:
    return orjson.dumps({"table": table, "row": values}) + b"\n"


SUBJECT_ROW = row("deliveries", id=1, recipient=SUBJECT_EMAIL, sender="Bank")


class _GarbageHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _head(self, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _send(self, body: bytes, status: int = 200, **headers: str) -> None:
        self._head(status, [("Content-Length", str(len(body))), *headers.items()])
        self.wfile.write(body)

    def _drip(self, piece: bytes, first: bytes = b"") -> None:
        """Headers, then ``first``, then ``piece`` every quarter second, for up to a minute
        (longer than any test waits: only the connector's own limit ends the call in time)."""
        self._head()
        self.wfile.write(first)
        for _ in range(4 * STALL_SECONDS):
            if self.server.stop.wait(0.25):
                return
            self.wfile.write(piece)
            self.wfile.flush()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.hits.append((self.command, self.path, body, self.headers.get(SIGNATURE, "")))
        behaviour = self.path.strip("/").split("/")[0]
        # The connector gives up on most behaviours, as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._behave(behaviour)

    def _behave(self, behaviour: str) -> None:
        other_person = row("deliveries", id=2, recipient="piet@example.org", sender="Bank")
        simple = {
            "not-json": (b"<html>Service temporarily unavailable</html>", 200),
            "json-array": (b'["pending"]', 200),
            "error": (b'{"error": "internal"}', 500),
            "empty": (b"", 204),
            "huge": (b'{"request_status": "' + b"pending" * 300_000 + b'"}', 200),
            "other-request": (b'{"subject_request_id": "x", "request_status": "completed"}', 200),
            "foreign-row": (SUBJECT_ROW + other_person, 200),
            "no-identity": (SUBJECT_ROW + row("deliveries", id=3, sender="Bank"), 200),
            "undeclared-table": (SUBJECT_ROW + row("secrets", id=1, recipient=SUBJECT_EMAIL), 200),
            "unhashable-table": (SUBJECT_ROW + b'{"table": ["deliveries"], "row": {}}\n', 200),
            "not-a-row": (SUBJECT_ROW + b'{"table": "deliveries", "row": [1]}\n', 200),
            "bad-line": (SUBJECT_ROW + b"deliveries,1,sanne\n", 200),
            # A number only Python's parser reads (1e400) beside a lone surrogate, which orjson
            # refuses and Python's parser would let through.
            "surrogate": (
                SUBJECT_ROW
                + b'{"table": "deliveries", "row": {"id": 2, "recipient": "'
                + SUBJECT_EMAIL.encode()
                + b'", "sender": "\\ud800", "x": 1e400}}\n',
                200,
            ),
            "extra-columns": (
                row(
                    "deliveries",
                    id=1,
                    recipient="Sanne.Jansen@Example.org",
                    sender={"name": "Bank", "ids": [1, 2]},
                    password="hunter2",
                )
                + b"\n\n",
                200,
            ),
        }
        if behaviour in simple:
            body, status = simple[behaviour]
            self._send(body, status)
        elif behaviour == "exact-numbers":  # numbers a float does not hold, as JSON text
            sent = [
                "54.50",
                "121",
                "0.1000000000000000055511151231257827",
                "18446744073709551616",
                "1e400",
                "-0.0",
                "9007199254740993",
                '{"amount": 54.50}',
                "1" + "0" * 5000,  # Python's int() refuses over 4,300 digits
            ]
            body = b"".join(
                b'{"table": "deliveries", "row": {"id": %d, "recipient": "%s", "sender": %s}}\n'
                % (n, SUBJECT_EMAIL.encode(), text.encode())
                for n, text in enumerate(sent, start=1)
            )
            self._send(body)
        elif behaviour == "redirect":
            self._send(b"", 302, Location="http://127.0.0.1:9/elsewhere")
        elif behaviour == "silent":  # headers never come
            self.server.stop.wait(STALL_SECONDS)
        elif behaviour == "trickle":  # a body that never ends
            self._drip(b" ")
        elif behaviour == "stall":  # one row, then nothing
            self._head()
            self.wfile.write(SUBJECT_ROW)
            self.wfile.flush()
            self.server.stop.wait(STALL_SECONDS)
        elif behaviour == "endless-line":  # one row, then a line that never ends
            self._drip(b"x", SUBJECT_ROW + b'{"table": "deliveries", "row": {"note": "')
        elif behaviour == "blank-lines":  # one row, then blank lines forever
            self._drip(b"\n", SUBJECT_ROW)
        else:
            self._send(b'{"error": "not found"}', 404)


@pytest.fixture
def garbage(monkeypatch) -> Iterator[Garbage]:
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", SECRET)
    server = Garbage()
    with running(server):
        yield server
        server.stop.set()


# The timeout a test measures is 1 s and set by the test; every other is generous, so a busy
# machine (the suite twice at once on two cores) cannot turn a prompt answer into a timeout.
# A stalling stub stalls for STALL_SECONDS and a call must end well within IN_TIME of starting.
MEASURED_TIMEOUT, GENEROUS_TIMEOUT, IN_TIME, STALL_SECONDS = 1, 30, 20, 60


def source_at(base: str, monkeypatch, timeout: int = GENEROUS_TIMEOUT) -> HttpConnector:
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_URL", base)
    return HttpConnector(http_spec(timeout=timeout))


def ask(source: HttpConnector) -> dict[str, Any]:
    return source.submit(
        request_id=str(uuid.uuid4()),
        kind="access",
        identities={"email": SUBJECT_EMAIL},
        callback_url="http://127.0.0.1:8000/fulfilment/callback/1/",
    )


@pytest.mark.parametrize(
    ("behaviour", "fault"),
    [
        ("not-json", "the processor answered something that is not JSON"),
        ("json-array", "the processor's answer is not a JSON object"),
        ("error", "the processor answered HTTP 500"),
        ("empty", "the processor answered something that is not JSON"),
        ("redirect", "the processor answered HTTP 302"),
        ("huge", "the processor's answer is too long"),
        ("silent", "no answer within 1 seconds"),
        ("trickle", "no answer within 1 seconds"),
    ],
)
def test_http_a_bad_answer_to_submit_or_status_is_a_connector_error_in_time(
    garbage, monkeypatch, behaviour, fault
):
    timed = "within" in fault  # the stub never answers: the 1 s limit is what is tested
    source = source_at(
        garbage.base(behaviour), monkeypatch, MEASURED_TIMEOUT if timed else GENEROUS_TIMEOUT
    )
    for call in (lambda: ask(source), lambda: source.status("a-request")):
        started = time.monotonic()
        with pytest.raises(ConnectorError) as caught:
            call()
        assert str(caught.value).startswith(fault)
        assert time.monotonic() - started < IN_TIME
    # Each call was signed: the body of a POST, "GET <path>" of a GET.
    (post, _, body, post_signature), (get, path, _, get_signature) = garbage.hits
    assert (post, get) == ("POST", "GET")
    assert verify(SECRET.encode(), body, post_signature)
    assert path == f"/{behaviour}/opendsr/v1/requests/a-request"
    assert verify(SECRET.encode(), f"GET {path}".encode(), get_signature)


@pytest.mark.parametrize(
    ("behaviour", "error", "fault"),
    [
        ("foreign-row", ForeignRows, "deliveries: the system returned a row that does not belong"),
        ("no-identity", ForeignRows, "deliveries: the system returned a row that does not belong"),
        ("undeclared-table", ConnectorError, "a table that is not declared: 'secrets'"),
        ("unhashable-table", ConnectorError, "a table that is not declared"),
        ("not-a-row", ConnectorError, 'a line that is not {"table": ..., "row": {...}}'),
        ("bad-line", ConnectorError, "the results hold a line that is not JSON"),
        ("surrogate", ConnectorError, "the results hold a line that is not JSON"),
        ("error", ConnectorError, "the processor answered HTTP 500"),
        ("redirect", ConnectorError, "the processor answered HTTP 302"),
        ("stall", ConnectorError, "the results stopped coming for 1 seconds"),
        ("endless-line", ConnectorError, "the results stopped coming for 1 seconds"),
        ("blank-lines", ConnectorError, "the results stopped coming for 1 seconds"),
    ],
)
def test_http_bad_results_are_refused_whole_and_in_time(
    garbage, monkeypatch, behaviour, error, fault
):
    """Another person's row, a row without the identity, garbage, an error, a redirect (not
    an empty result!), or a stream that stalls or never ends: a ConnectorError within about
    the timeout, and no batch handed on."""
    base = garbage.base(behaviour)
    timed = "stopped coming" in fault  # the stub stalls: the 1 s limit is what is tested
    source = source_at(base, monkeypatch, MEASURED_TIMEOUT if timed else GENEROUS_TIMEOUT)
    handed_on: list[Batch] = []
    started = time.monotonic()
    with pytest.raises(error) as caught:
        for batch in source.results(f"{base}/opendsr/v1/results/r1", {"email": SUBJECT_EMAIL}):
            handed_on.append(batch)
    assert time.monotonic() - started < IN_TIME
    assert fault in str(caught.value)
    assert handed_on == []


def test_http_results_keep_declared_columns_only_and_structures_as_json(garbage, monkeypatch):
    base = garbage.base("extra-columns")
    source = source_at(base, monkeypatch)
    (batch,) = source.results(f"{base}/opendsr/v1/results/r1", {"email": SUBJECT_EMAIL})
    assert batch.table.name == "deliveries"
    assert [tuple(r) for r in batch.rows] == [
        (1, "Sanne.Jansen@Example.org", '{"name":"Bank","ids":[1,2]}')
    ]
    assert "hunter2" not in repr(batch.rows)


@pytest.mark.parametrize(
    "offsite",
    [
        "http://127.0.0.1:{other}/foreign-row/opendsr/v1/results/r1",  # another port
        "http://localhost:{port}/foreign-row/opendsr/v1/results/r1",  # another host name
        "https://127.0.0.1:{port}/foreign-row/opendsr/v1/results/r1",  # another scheme
        "http://127.0.0.1:{port}@127.0.0.1:{other}/foreign-row/results",  # user info trick
        "//127.0.0.1:{other}/foreign-row/results",
        "/foreign-row/opendsr/v1/results/r1",
        None,
    ],
)
def test_http_results_on_another_origin_are_refused_without_a_request(
    garbage, monkeypatch, offsite
):
    other = Garbage()
    with running(other):
        source = source_at(garbage.base("foreign-row"), monkeypatch)
        url = offsite and offsite.format(port=garbage.server_port, other=other.server_port)
        with pytest.raises(ConnectorError, match="the processor offered results from another"):
            list(source.results(url, {"email": SUBJECT_EMAIL}))
    assert other.hits == [] and garbage.hits == []


def test_http_a_status_about_another_request_is_refused(garbage, monkeypatch):
    source = source_at(garbage.base("other-request"), monkeypatch)
    with pytest.raises(ConnectorError, match="the processor answered about another request"):
        source.status("mine")


def test_http_a_closed_port_is_a_connector_error(monkeypatch):
    base = f"http://127.0.0.1:{free_port()}/maillog"
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", SECRET)
    source = source_at(base, monkeypatch)
    with pytest.raises(ConnectorError, match=r"cannot reach 127\.0\.0\.1:\d+: ConnectError"):
        ask(source)
    with pytest.raises(ConnectorError, match="cannot reach"):
        source.status("a-request")
    with pytest.raises(ConnectorError, match="reading the results failed: ConnectError"):
        list(source.results(f"{base}/opendsr/v1/results/r1", {"email": SUBJECT_EMAIL}))


def test_http_source_needs_an_http_url_and_its_variables(monkeypatch, settings):
    settings.DEMO = False
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", SECRET)
    monkeypatch.delenv("DSAR_TEST_PROCESSOR_URL", raising=False)
    with pytest.raises(ConnectorError, match="DSAR_TEST_PROCESSOR_URL is not set"):
        HttpConnector(http_spec())
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_URL", "file:///etc/passwd")
    with pytest.raises(ConnectorError, match="is not an http\\(s\\) URL"):
        HttpConnector(http_spec())
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_URL", "http://127.0.0.1:1/maillog")
    monkeypatch.delenv("DSAR_TEST_PROCESSOR_SECRET")
    with pytest.raises(ConnectorError, match="DSAR_TEST_PROCESSOR_SECRET is not set"):
        HttpConnector(http_spec())


# --- The processors' callback view.

MAILLOG_SECRET = "smartlockr-maillog-signing-key"


@pytest.fixture
def waiting(systems, submit, monkeypatch):
    """A smartlockr access request whose searches started, the mail log's sent to the
    processor and waiting for it (as ``jobs.JobKind.by_http`` leaves it)."""
    monkeypatch.setenv("DSAR_SMARTLOCKR_MAILLOG_SECRET", MAILLOG_SECRET)
    case = submit(systems["smartlockr"], confirm=False, email=people.SUBJECT.email)
    collect.start(case)  # its on-commit searches do not run: the test's transaction never ends
    search = Search.objects.get(case=case, system_name="maillog")
    Search.objects.filter(pk=search.pk).update(
        status=SearchStatus.REMOTE,
        remote_id=str(uuid.uuid4()),
        remote_status="pending",
        next_attempt_at=timezone.now() + jobs.POLL_EVERY,
    )
    search.refresh_from_db()
    return search


def _state(search: Search) -> tuple:
    search.refresh_from_db()
    return (
        search.status,
        search.remote_status,
        search.next_attempt_at,
        search.attempts,
        search.error,
    )


def _post(search_id: int, body: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"headers": {SIGNATURE: signature}}
    return Client().post(
        reverse("fulfilment_callback", args=[search_id]),
        data=body,
        content_type="application/json",
        **headers,
    )


def _completed(search: Search) -> bytes:
    return orjson.dumps({"subject_request_id": search.remote_id, "request_status": "completed"})


@pytest.mark.parametrize("how", ["missing", "other key", "other body", "garbage"])
def test_callback_with_a_bad_signature_is_refused_and_changes_nothing(
    waiting, django_capture_on_commit_callbacks, how
):
    body = _completed(waiting)
    signature = {
        "missing": None,
        "other key": sign(b"not the key", body),
        "other body": sign(MAILLOG_SECRET.encode(), body.replace(b"completed", b"cancelled")),
        "garbage": "\u00e9" * 64,
    }[how]
    before = _state(waiting)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(waiting.pk, body, signature)
    assert response.status_code == 403
    assert _state(waiting) == before
    assert callbacks == []


def test_callback_for_an_unknown_or_unsent_search_or_another_request_is_refused(
    waiting, django_capture_on_commit_callbacks
):
    body = _completed(waiting)
    signature = sign(MAILLOG_SECRET.encode(), body)
    platform = Search.objects.get(case=waiting.case, system_name="platform")
    before = _state(waiting)
    with django_capture_on_commit_callbacks() as callbacks:
        assert _post(waiting.pk + 1000, body, signature).status_code == 403
        assert _post(platform.pk, body, signature).status_code == 403  # never sent anywhere
        assert _post(2**63, body, signature).status_code == 403
        other = orjson.dumps({"subject_request_id": str(uuid.uuid4())})
        response = _post(waiting.pk, other, sign(MAILLOG_SECRET.encode(), other))
        assert response.status_code == 400
    assert _state(waiting) == before
    assert callbacks == []


def test_callback_signed_by_the_real_processor_is_accepted_and_schedules_the_poll(
    waiting, recorder, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The demo processor, built from the registry as its command builds it, is asked for the
    search's request; the callback it signs is accepted by the view (202), which makes the
    poll due now and queues it; the processor's results are the subject's alone."""
    folder = Path(settings.VAR_DIR) / "systems"
    people.smartlockr_maillog(folder, count=25)
    server, public = start_processor(datasets(folder), folder, delay=0.1)
    monkeypatch.setenv("DSAR_SMARTLOCKR_MAILLOG_URL", f"{public}/smartlockr-maillog")
    source = HttpConnector(spec_of(waiting.system.spec))
    identities = collect.identities_for(waiting.case)
    with running(server):
        source.submit(
            request_id=waiting.remote_id,
            kind="access",
            identities=identities,
            callback_url=recorder.url,
        )
        assert recorder.arrived.wait(5)
        answer = wait_until_completed(source, waiting.remote_id)
        rows = [
            r for batch in source.results(answer["results_url"], identities) for r in batch.rows
        ]
    ((body, signature),) = recorder.received

    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(waiting.pk, body, signature)
    assert response.status_code == 202
    waiting.refresh_from_db()
    assert waiting.status == SearchStatus.REMOTE
    assert abs((waiting.next_attempt_at - timezone.now()).total_seconds()) < 5
    assert len(callbacks) == 1  # the poll, queued once the view's transaction commits

    db = sqlite3.connect(folder / "processor-smartlockr-maillog.sqlite3")
    (count,) = db.execute(
        "SELECT count(*) FROM deliveries WHERE lower(recipient) = ?", (people.SUBJECT.email,)
    ).fetchone()
    db.close()
    assert count == 2 and len(rows) == count
    recipient = [c.name for c in source.spec.table("deliveries").columns].index("recipient")
    assert {r[recipient] for r in rows} == {people.SUBJECT.email}
