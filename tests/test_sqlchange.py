"""The write side of the SQL connector against real SQLite, PostgreSQL and MariaDB databases:
the dry run never writes, a change touches only the subject's rows (children before parents),
verification reads every change back, a second run changes nothing more, and every refusal
(more rows than planned, a key that is not unique) leaves the database as it was.

The shop of ``test_connectors``: Sanne (customers 1 and 3, one address in two spellings), her
orders 10, 11, 13 and their lines, beside other people's rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
import sqlalchemy as sa

from fulfilment.systems.connectors import sqlchange
from fulfilment.systems.connectors.base import ConnectorError, ForeignRows

from .test_connectors import (
    CUSTOMERS,
    LINES,
    ORDERS,
    SHOP_URL_ENV,
    Db,
    build_shop,
    column,
    database,
    sql_spec,
)

SANNE = {"email": "sanne.jansen@example.org"}
KEY = b"k" * 32
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shop_db(request, tmp_path, worker_id, monkeypatch):
    with database(request.param, tmp_path, worker_id) as found:
        monkeypatch.setenv(SHOP_URL_ENV, found.url)
        yield found


def erasing_shop(**customers):
    """The shop as a systems file that declares every right's action."""
    return sql_spec(
        [
            {
                "name": "order_lines",
                "key": "id",
                "reached_from": {"table": "orders", "column": "order_id", "parent_column": "id"},
                "erasure": "delete",
                "columns": [
                    column("id"),
                    column("order_id"),
                    column("product"),
                    column("quantity"),
                ],
            },
            {
                "name": "customers",
                "key": "id",
                "identities": {"email": "email", "customer_number": "customer_number"},
                "erasure": "delete",
                "restriction": {"column": "restricted", "value": "1", "lifted": "0"},
                "columns": [
                    column("email"),
                    column("id"),
                    {**column("name"), "rectifiable": True},
                    column("customer_number"),
                ],
                **customers,
            },
            {
                "name": "orders",
                "key": "id",
                "reached_from": {
                    "table": "customers",
                    "column": "customer_id",
                    "parent_column": "id",
                },
                "erasure": "update",
                "keep_ground": "Art. 17(3)(b): invoices",
                "keep_years": 7,
                "columns": [
                    column("id"),
                    {**column("customer_id"), "erasure": "null"},
                    column("placed_on"),
                ],
            },
        ]
    )


def ready(db: Db) -> None:
    build_shop(db)
    db.run("ALTER TABLE customers ADD COLUMN restricted INTEGER DEFAULT 0 NOT NULL")


def snapshot(db: Db) -> dict[str, list[tuple]]:
    with db.admin.connect() as conn:
        return {
            table: sorted(
                tuple(row)
                for row in conn.exec_driver_sql(f"SELECT * FROM {table}")  # noqa: S608
            )
            for table in ("customers", "orders", "order_lines")
        }


def erasure_changes(counts: dict[str, int]) -> dict[str, dict]:
    return {
        "order_lines": {"op": "delete", "rows": counts["order_lines"]},
        "customers": {"op": "delete", "rows": counts["customers"]},
        "orders": {
            "op": "update",
            "rows": counts["orders"],
            "columns": [{"column": "customer_id", "to": "null"}],
        },
    }


def test_the_dry_run_only_reads_and_changes_nothing(shop_db):
    """What a plan's count sends is SELECTs alone, in a read-only session, and the shop is the
    same byte for byte afterwards."""
    ready(shop_db)
    before = snapshot(shop_db)
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        counts = sqlchange.count(erasing_shop(), SANNE)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert counts == {"order_lines": 4, "customers": 2, "orders": 3}
    # Reflection reads the catalogue (PRAGMA, SHOW CREATE TABLE); the rest is SELECT alone.
    touching = [
        s
        for s in sent
        if re.search(r"\b(customers|orders|order_lines)\b", s)
        and not s.lstrip().upper().startswith(("PRAGMA", "SHOW"))
    ]
    assert touching and all(s.lstrip().upper().startswith("SELECT") for s in touching), touching
    assert snapshot(shop_db) == before


def test_erasure_deletes_children_first_updates_what_is_kept_and_verifies(shop_db):
    ready(shop_db)
    spec = erasing_shop()
    changes = erasure_changes(sqlchange.count(spec, SANNE))
    applied = sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)
    assert applied.rows == {"order_lines": 4, "customers": 2, "orders": 3}
    assert sqlchange.verify(spec, SANNE, changes, applied) == []
    after = snapshot(shop_db)
    assert [c[0] for c in after["customers"]] == [2, 4, 5, 6]  # nobody else's row went
    assert [line[0] for line in after["order_lines"]] == [103, 105, 106, 107]
    orders = {o[0]: o for o in after["orders"]}
    assert len(orders) == len(ORDERS)  # kept, unlinked from the deleted customer
    assert [orders[i][1] for i in (10, 11, 13)] == [None, None, None]
    assert orders[12][1] == 2 and orders[14][1] == 4
    # A second run finds nothing more to change; verifying it finds nothing left either.
    again = sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)
    assert sum(again.rows.values()) == 0
    assert sqlchange.verify(spec, SANNE, changes, again) == []
    assert snapshot(shop_db) == after


def test_more_rows_than_the_plan_counted_stops_everything(shop_db):
    ready(shop_db)
    spec = erasing_shop()
    changes = erasure_changes(sqlchange.count(spec, SANNE))
    shop_db.insert("orders", "id, customer_id, placed_on", [(17, 3, "2026-11-01")])
    before = snapshot(shop_db)
    with pytest.raises(ConnectorError, match=r"orders: 4 rows hold the subject now.*plan again"):
        sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)
    assert snapshot(shop_db) == before


def test_a_key_that_is_not_unique_refuses_the_change_and_changes_nothing(shop_db):
    """Declared key customer_id would make "WHERE key IN (1, 3)" reach every order of theirs,
    and another person's orders that share a key value: nothing is changed."""
    ready(shop_db)
    spec = erasing_shop()
    tables = [
        t if t.name != "orders" else t.__class__(**{**t.__dict__, "key": "customer_id"})
        for t in spec.tables
    ]
    spec = spec.__class__(**{**spec.__dict__, "tables": tuple(tables)})
    changes = erasure_changes(sqlchange.count(spec, SANNE))
    before = snapshot(shop_db)
    with pytest.raises(ConnectorError, match=r"orders: its key 'customer_id'.*not unique"):
        sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)
    assert snapshot(shop_db) == before


def test_restriction_sets_the_flag_and_lifting_clears_it(shop_db):
    ready(shop_db)
    spec = erasing_shop()
    restrict = {
        "customers": {
            "op": "restrict",
            "rows": 2,
            "columns": [{"column": "restricted", "to": "value", "value": "1"}],
        }
    }
    applied = sqlchange.apply(spec, SANNE, restrict, now=NOW, key=KEY)
    assert sqlchange.verify(spec, SANNE, restrict, applied) == []
    assert sqlchange.marks(spec, SANNE) == {"customers": {"restricted": 2}}
    with shop_db.admin.connect() as conn:
        flags = dict(conn.exec_driver_sql("SELECT id, restricted FROM customers").fetchall())
    assert flags == {1: 1, 2: 0, 3: 1, 4: 0, 5: 0, 6: 0}
    lift = {
        "customers": {
            **restrict["customers"],
            "columns": [{"column": "restricted", "to": "value", "value": "0"}],
        }
    }
    applied = sqlchange.apply(spec, SANNE, lift, now=NOW, key=KEY)
    assert sqlchange.verify(spec, SANNE, lift, applied) == []
    assert sqlchange.marks(spec, SANNE) == {"customers": {"restricted": 0}}


def test_rectification_writes_the_value_and_keeps_only_the_old_value_s_hash(shop_db):
    ready(shop_db)
    spec = erasing_shop()
    change = {
        "customers": {
            "op": "update",
            "rows": 2,
            "columns": [
                {"column": "name", "to": "value", "value": "Sanne de Vries", "hash_before": True}
            ],
        }
    }
    applied = sqlchange.apply(spec, SANNE, change, now=NOW, key=KEY)
    old = hashlib.sha256(b"Sanne Jansen").hexdigest()
    assert applied.before == {"customers.name": [old, old]}
    assert sqlchange.verify(spec, SANNE, change, applied) == []
    with shop_db.admin.connect() as conn:
        names = dict(conn.exec_driver_sql("SELECT id, name FROM customers").fetchall())
    assert names[1] == names[3] == "Sanne de Vries"
    assert names[5] == "Jan Jansen"


def test_pseudonyms_keep_the_form_the_column_needs_and_are_keyed():
    where = "customers.email"
    address = sqlchange.pseudonym("sanne.jansen@example.org", KEY, where)
    assert re.fullmatch(r"[0-9a-f]{16}@pseudonym\.invalid", address)
    assert address == sqlchange.pseudonym("sanne.jansen@example.org", KEY, where)
    assert address != sqlchange.pseudonym("sanne.jansen@example.org", b"x" * 32, where)
    phone = sqlchange.pseudonym("+31 6 12345678", KEY, "customers.phone")
    assert re.fullmatch(r"\+\d\d \d \d{8}", phone) and phone != "+31 6 12345678"
    # A made-up number or date could be another person's real one: only text is pseudonymised.
    with pytest.raises(ConnectorError, match="only a text column"):
        sqlchange.pseudonym(123456, KEY, "customers.number")
    assert len(sqlchange.pseudonym("Sanne Jansen", KEY, "customers.name", 10)) == 10
    assert sqlchange.pseudonym(None, KEY, where) is None


def test_pseudonymised_columns_are_written_row_by_row_and_verified(shop_db):
    ready(shop_db)
    spec = erasing_shop(
        erasure="update",
        columns=[
            column("email"),
            column("id"),
            {**column("name"), "erasure": "pseudonymise"},
            column("customer_number"),
        ],
    )
    change = {
        "customers": {
            "op": "update",
            "rows": 2,
            "columns": [{"column": "name", "to": "pseudonymise"}],
        }
    }
    applied = sqlchange.apply(spec, SANNE, change, now=NOW, key=KEY)
    assert sqlchange.verify(spec, SANNE, change, applied) == []
    with shop_db.admin.connect() as conn:
        names = dict(conn.exec_driver_sql("SELECT id, name FROM customers").fetchall())
    assert names[1].startswith("pseudonym-") and names[1] == names[3]  # same name, same pseudonym
    assert names[2] == "Piet de Vries"


def test_verification_finds_what_is_still_there(shop_db):
    """A row the change deleted that is back (a replica, a trigger, a restore) fails it."""
    ready(shop_db)
    spec = erasing_shop()
    changes = erasure_changes(sqlchange.count(spec, SANNE))
    applied = sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)
    shop_db.insert("order_lines", "id, order_id, product, quantity", [LINES[0]])
    shop_db.insert(
        "customers",
        "id, customer_number, name, email",
        [c for c in CUSTOMERS if c[0] == 3],
    )
    problems = sqlchange.verify(spec, SANNE, changes, applied)
    assert "order_lines: 1 of the deleted rows are still there" in problems
    assert "customers: 1 of the deleted rows are still there" in problems
    assert "customers: the search still finds 1 rows" in problems


def _vouchers(db: Db, ref_one: str, ref_two: str):
    db.run(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200), ref VARCHAR(20))",
        "CREATE TABLE vouchers (id INTEGER PRIMARY KEY, ref VARCHAR(20), code VARCHAR(20))",
    )
    db.insert(
        "customers",
        "id, email, ref",
        [(1, "sanne.jansen@example.org", ref_one), (2, "piet@example.org", ref_two)],
    )
    db.insert("vouchers", "id, ref, code", [(10, ref_one, "HERS"), (11, ref_two, "HIS")])
    return sql_spec(
        [
            {
                "name": "customers",
                "key": "id",
                "identities": {"email": "email"},
                "columns": [column("id"), column("email"), column("ref")],
            },
            {
                "name": "vouchers",
                "key": "id",
                "reached_from": {"table": "customers", "column": "ref", "parent_column": "ref"},
                "columns": [column("id"), column("ref"), column("code")],
            },
        ]
    )


def test_a_link_value_shared_with_another_person_stops_the_search_and_the_change(shop_db):
    """A household number both hold: the vouchers linked to it cannot be told apart, so neither
    an access search nor a change takes them (nor anything else of that system)."""
    spec = _vouchers(shop_db, "H-1", "H-1")
    before = {t: shop_db.count(t) for t in ("customers", "vouchers")}
    with pytest.raises(ForeignRows, match="shared with other rows"):
        sqlchange.count(spec, SANNE)
    changes = {"customers": {"op": "delete", "rows": 1}, "vouchers": {"op": "delete", "rows": 2}}
    with pytest.raises(ForeignRows, match="shared with other rows"):
        sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)
    assert {t: shop_db.count(t) for t in before} == before


def test_an_empty_link_value_links_nothing(shop_db):
    spec = _vouchers(shop_db, "", "")
    assert sqlchange.count(spec, SANNE) == {"customers": 1, "vouchers": 0}


def test_a_value_the_column_cannot_take_is_found_by_the_dry_run(shop_db):
    ready(shop_db)
    spec = erasing_shop()
    with pytest.raises(ConnectorError, match=r"neither true nor false|not a whole number"):
        sqlchange.check_values(
            spec,
            {"customers": {"columns": [{"column": "restricted", "to": "value", "value": "maybe"}]}},
        )
    with pytest.raises(ConnectorError, match="only a text column can be pseudonymised"):
        sqlchange.check_values(
            spec, {"orders": {"columns": [{"column": "customer_id", "to": "pseudonymise"}]}}
        )
    with pytest.raises(ConnectorError, match="longer than the column"):
        sqlchange.check_values(
            spec,
            {"customers": {"columns": [{"column": "name", "to": "value", "value": "x" * 101}]}},
        )
    with pytest.raises(ConnectorError, match="has no column 'nickname'"):
        sqlchange.check_values(
            spec, {"customers": {"columns": [{"column": "nickname", "to": "null"}]}}
        )


def test_an_opt_out_already_made_is_counted_kept_and_verified_as_it_is(shop_db):
    """A withdrawal sets "{now}" only where the subject has not opted out already: customer 1
    opted out in 2024 and keeps that moment, customer 3 gets the change's; the dry run says so
    beforehand, verification agrees, and a second run writes nothing."""
    ready(shop_db)
    moment = "DATETIME" if shop_db.dialect == "mariadb" else "TIMESTAMP"
    shop_db.run(f"ALTER TABLE customers ADD COLUMN opted_out {moment} NULL")
    shop_db.run("UPDATE customers SET opted_out = '2024-05-03 10:00:00' WHERE id = 1")
    spec = erasing_shop(
        withdrawal={
            "action": "set",
            "column": "opted_out",
            "value": "{now}",
            "processing": "De nieuwsbrief",
        }
    )
    change = {
        "op": "update",
        "rows": 2,
        "columns": [{"column": "opted_out", "to": "value", "value": "{now}", "unless_set": True}],
    }
    changes = {"customers": change}
    assert sqlchange.already(spec, SANNE, changes) == {
        "customers": {"rows": 1, "since": ["2024-05-03"]}
    }
    applied = sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)
    assert sqlchange.verify(spec, SANNE, changes, applied) == []
    with shop_db.admin.connect() as conn:
        held = dict(conn.exec_driver_sql("SELECT id, opted_out FROM customers").fetchall())
    assert str(held[1]).startswith("2024-05-03 10:00:00")
    assert str(held[3]).startswith(NOW.strftime("%Y-%m-%d %H:%M"))
    assert held[2] is None  # nobody else's
    before = snapshot(shop_db)
    again = sqlchange.apply(spec, SANNE, changes, now=NOW + dt.timedelta(days=1), key=KEY)
    assert sqlchange.verify(spec, SANNE, changes, again) == []
    assert snapshot(shop_db) == before
    assert sqlchange.already(spec, SANNE, changes)["customers"]["rows"] == 2


def test_rows_an_erasure_unlinked_are_found_by_their_recorded_keys_and_no_other(shop_db):
    """After the erasure Sanne's orders hold no customer any more: a search by her address
    finds nothing, the search given the keys the erasure recorded finds exactly those orders
    (and their lines, through them); a key that now names a second row stops the search."""
    from fulfilment.systems.connectors.sql import SqlSource

    ready(shop_db)
    spec = erasing_shop()
    changes = erasure_changes(sqlchange.count(spec, SANNE))
    changes["order_lines"]["op"] = "none"  # the lines stay, linked to the kept orders
    sqlchange.apply(spec, SANNE, changes, now=NOW, key=KEY)

    def found(source: SqlSource) -> dict[str, list]:
        rows: dict[str, list] = {}
        for batch in source.search(SANNE):
            rows.setdefault(batch.table.name, []).extend(row[0] for row in batch.rows)
        return {name: sorted(keys) for name, keys in rows.items() if keys}

    assert found(SqlSource(spec)) == {}
    kept = {"orders": [10, 11, 13]}
    assert found(SqlSource(spec, kept=kept)) == {
        "orders": [10, 11, 13],
        "order_lines": [100, 101, 102, 104],
    }
    # Keys kept as text in the record (a key of another type) are read as the column's.
    assert found(SqlSource(spec, kept={"orders": ["10"]})) == {
        "orders": [10],
        "order_lines": [100, 101],
    }
    by_day = [
        t if t.name != "orders" else t.__class__(**{**t.__dict__, "key": "placed_on"})
        for t in spec.tables
    ]
    shop_db.insert("orders", "id, customer_id, placed_on", [(18, 2, "2025-01-02")])
    loose = spec.__class__(**{**spec.__dict__, "tables": tuple(by_day)})
    with pytest.raises(ForeignRows, match="names more than one row now"):
        found(SqlSource(loose, kept={"orders": ["2025-01-02"]}))


def test_a_boolean_flag_takes_only_words_for_true_and_false():
    flag = sa.Column("beperkt", sa.Boolean())
    assert sqlchange.typed(flag, "ja", NOW) is True
    assert sqlchange.typed(flag, "0", NOW) is False
    with pytest.raises(ConnectorError, match="neither true nor false"):
        sqlchange.typed(flag, "restricted", NOW)


def test_files_are_removed_inside_the_folder_only_never_through_a_link(tmp_path):
    root = tmp_path / "files"
    (root / "sanne").mkdir(parents=True)
    (root / "piet").mkdir()
    hers = root / "sanne" / "a.jpg"
    hers.write_bytes(b"x")
    his = root / "piet" / "b.jpg"
    his.write_bytes(b"y")
    (root / "sanne" / "link.jpg").symlink_to(his)
    outside = tmp_path / "secret.txt"
    outside.write_text("z")
    removed, warnings = sqlchange.remove_files(
        root, ["sanne/a.jpg", "sanne/link.jpg", "../secret.txt", "sanne/../../secret.txt"]
    )
    assert removed == 1 and not hers.exists()
    assert his.exists() and outside.exists()
    assert (root / "sanne" / "link.jpg").is_symlink()
    assert "a named path that is not a regular file is not deleted" in warnings
    assert warnings.count("a file outside the system's folder is not deleted") == 2
    assert sqlchange.files_left(root, ["sanne/a.jpg", "piet/b.jpg"]) == 1
