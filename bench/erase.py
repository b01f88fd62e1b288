"""Erasure of one subject: 100,000 linked rows across three tables in PostgreSQL, deleted by the
SQL connector's write side as an approved plan says, against one hand-written DELETE per table,
measured in the same run (DEBUG off).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.erase

It creates and drops its own database (bench.common) holding a shop: ``customers`` (an index on
``lower(email)``, what the connector's case-insensitive search and the loader's index check
want), ``orders`` reached from ``customers.id`` by ``customer_id`` and ``order_lines`` reached
from ``orders.id`` by ``order_id`` (each link indexed, and a foreign key, as a shop has them).
The subject has one customer row, ``--orders`` orders and ``--lines`` lines to each: by default
1 + 11,111 + 88,888 = 100,000 rows. Other people (``--people`` customers) have ``--factor`` times
as many orders and lines, interleaved with the subject's in the tables; they must all survive.
The system declares erasure "delete" for all three tables. Measured, each on the same rows (the
subject's rows are put back, the tables vacuumed and a checkpoint taken before each):

- baseline: three DELETEs in one transaction through psycopg (order lines of the subject's
  orders, the orders, the customer; each by subqueries on ``lower(email)``), connection
  included: the least a hand-written erasure does;
- apply: ``sqlchange.apply`` with the plan's entries (``plans.table_entry`` and the dry run's
  counts), the transaction a Celery worker runs for an approved erasure (``changes.execute``);
- verify: ``sqlchange.verify`` of what ``apply`` did, run after it as the worker runs it.

Rounds of the baseline and the product, interleaved (the machine is shared: a busy minute then
slows both instead of one); the medians are shown. ``--profile N`` adds one round of
apply+verify under cProfile and prints its N most expensive functions. Its smoke test is in
``tests/test_bench.py`` (201 rows of the subject, one round, a profile of it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.common import bench_database, profiled

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUBJECT = "Subject.Person@Example.org"  # mixed case: the search compares lower(email)
URL_ENV = "DSAR_BENCH_ERASE_URL"
TABLES = ("customers", "orders", "order_lines")  # parents first


def column(name: str, category: str = "Orders") -> dict[str, str]:
    return {"name": name, "category": category}


# The system as a controller's systems file would declare it (controllers/systems/format.py);
# a table's erasure is "delete" by default, said here all the same.
SYSTEM: dict[str, Any] = {
    "name": "shop",
    "title": "Webshop",
    "kind": "sql",
    "url_env": URL_ENV,
    "timeout_seconds": 600,
    "tables": [
        {
            "name": "customers",
            "label": "Customers",
            "key": "id",
            "identities": {"email": "email"},
            "erasure": "delete",
            "columns": [
                column("id", "Contact"),
                column("email", "Contact"),
                column("name", "Contact"),
                column("created_at", "Contact"),
            ],
        },
        {
            "name": "orders",
            "label": "Orders",
            "key": "id",
            "reached_from": {"table": "customers", "column": "customer_id", "parent_column": "id"},
            "erasure": "delete",
            "columns": [
                column("id"),
                column("customer_id"),
                column("placed_at"),
                column("status"),
                column("total"),
            ],
        },
        {
            "name": "order_lines",
            "label": "Order lines",
            "key": "id",
            "reached_from": {"table": "orders", "column": "order_id", "parent_column": "id"},
            "erasure": "delete",
            "columns": [
                column("id"),
                column("order_id"),
                column("product"),
                column("quantity"),
                column("price"),
            ],
        },
    ],
}


# The subject's rows of each table, by the same conditions as the baseline's DELETEs.
MINE = {
    "customers": sql.SQL("lower(email) = {subject}").format(subject=sql.Literal(SUBJECT.lower())),
}
MINE["orders"] = sql.SQL("customer_id IN (SELECT id FROM customers WHERE {mine})").format(
    mine=MINE["customers"]
)
MINE["order_lines"] = sql.SQL("order_id IN (SELECT id FROM orders WHERE {mine})").format(
    mine=MINE["orders"]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=11_111, help="orders of the subject")
    parser.add_argument("--lines", type=int, default=8, help="lines to each order")
    parser.add_argument("--people", type=int, default=10_000, help="other customers")
    parser.add_argument(
        "--factor", type=int, default=10, help="other people's orders and lines per the subject's"
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds; the medians are shown")
    parser.add_argument(
        "--no-foreign-keys", action="store_true", help="links without foreign key constraints"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="see the docstring")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args()

    with bench_database() as database_url:
        shape = fill(database_url, args)
        results = measure(database_url, args, shape)
    report(args, shape, results)


def fill(database_url: str, args: argparse.Namespace) -> dict[str, dict[str, int]]:
    """The shop, the subject's rows kept aside in ``saved_*`` to be put back before each
    measurement; returns the rows of each table: the subject's and the others'."""
    orders = args.orders * (args.factor + 1)  # every (factor + 1)-th order is the subject's
    references = not args.no_foreign_keys
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, "
            "name text NOT NULL, created_at timestamptz NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL"
            + (" REFERENCES customers (id)" if references else "")
            + ", placed_at timestamptz NOT NULL, status text NOT NULL, total numeric(10, 2))"
        )
        conn.execute(
            "CREATE TABLE order_lines (id bigint PRIMARY KEY, order_id bigint NOT NULL"
            + (" REFERENCES orders (id)" if references else "")
            + ", product text NOT NULL, quantity integer NOT NULL, price numeric(10, 2))"
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO customers SELECT n, CASE WHEN n = 1 THEN {subject} "
                "ELSE 'customer' || n || '@example.org' END, 'Customer ' || n, "
                "timestamptz '2020-01-01 00:00:00+00' + n * interval '1 minute' "
                "FROM generate_series(1, {last}) AS n"
            ).format(subject=sql.Literal(SUBJECT), last=sql.Literal(args.people + 1))
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO orders SELECT n, CASE WHEN n % {every} = 0 THEN 1 "
                "ELSE 2 + n % {people} END, "
                "timestamptz '2024-01-01 00:00:00+00' + n * interval '1 minute', "
                "(ARRAY['placed', 'paid', 'shipped', 'delivered'])[1 + n % 4], "
                "(n % 50000) / 100.0 FROM generate_series(1, {last}) AS n"
            ).format(
                every=sql.Literal(args.factor + 1),
                people=sql.Literal(args.people),
                last=sql.Literal(orders),
            )
        )
        # The lines of one order are consecutive (inserted with it), of order (n - 1) / lines + 1.
        conn.execute(
            sql.SQL(
                "INSERT INTO order_lines SELECT n, (n - 1) / {lines} + 1, "
                "'product-' || md5(n::text), 1 + n % 5, (n % 10000) / 100.0 "
                "FROM generate_series(1, {last}) AS n"
            ).format(lines=sql.Literal(args.lines), last=sql.Literal(orders * args.lines))
        )
        conn.execute("CREATE INDEX customers_lower_email ON customers (lower(email))")
        conn.execute("CREATE INDEX orders_customer_id ON orders (customer_id)")
        conn.execute("CREATE INDEX order_lines_order_id ON order_lines (order_id)")
        conn.execute(
            sql.SQL("CREATE TABLE saved_customers AS SELECT * FROM customers WHERE {mine}").format(
                mine=MINE["customers"]
            )
        )
        for name in TABLES[1:]:
            conn.execute(
                sql.SQL("CREATE TABLE {saved} AS SELECT * FROM {table} WHERE {mine}").format(
                    saved=sql.Identifier(f"saved_{name}"),
                    table=sql.Identifier(name),
                    mine=MINE[name],
                )
            )
        conn.execute("VACUUM ANALYZE")
        shape = census(conn)
    wanted = {
        "customers": 1,
        "orders": args.orders,
        "order_lines": args.orders * args.lines,
    }
    assert {name: shape[name]["subject"] for name in TABLES} == wanted, shape
    return shape


def census(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """Per table: the subject's rows, the others' rows and the sum of their keys."""
    out = {}
    for name in TABLES:
        query = sql.SQL(
            "SELECT count(*) FILTER (WHERE {mine}), count(*) FILTER (WHERE NOT ({mine})), "
            "coalesce(sum(id) FILTER (WHERE NOT ({mine})), 0) FROM {table}"
        ).format(mine=MINE[name], table=sql.Identifier(name))
        subject, others, keys = conn.execute(query).fetchone()
        out[name] = {"subject": subject, "others": others, "keys": int(keys)}
    return out


def restore(database_url: str) -> None:
    """The subject's rows back where the last erasure deleted them (parents first), the tables
    vacuumed and analysed, the dirty pages written: each measurement starts from the same state."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        with conn.transaction():
            present = conn.execute(
                sql.SQL("SELECT count(*) FROM customers WHERE {mine}").format(
                    mine=MINE["customers"]
                )
            ).fetchone()[0]
            if not present:
                for name in TABLES:
                    conn.execute(
                        sql.SQL("INSERT INTO {table} SELECT * FROM {saved}").format(
                            table=sql.Identifier(name), saved=sql.Identifier(f"saved_{name}")
                        )
                    )
        for name in TABLES:
            conn.execute(sql.SQL("VACUUM ANALYZE {table}").format(table=sql.Identifier(name)))
        conn.execute("CHECKPOINT")


def check(database_url: str, shape: dict[str, dict[str, int]], what: str) -> None:
    """The subject's rows are gone, every other row is still there, and nothing else is."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        after = census(conn)
        total = {
            name: conn.execute(
                sql.SQL("SELECT count(*) FROM {table}").format(table=sql.Identifier(name))
            ).fetchone()[0]
            for name in TABLES
        }
    for name in TABLES:
        want = {**shape[name], "subject": 0}
        assert after[name] == want, f"{what}: {name}: {after[name]} instead of {want}"
        assert total[name] == want["others"], f"{what}: {name}: {total[name]} rows left"


def baseline(database_url: str) -> float:
    """Seconds for the hand-written erasure: one DELETE per table, children first, one
    transaction, connecting included (as the product's own connection is)."""
    start = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        for name in reversed(TABLES):
            conn.execute(
                sql.SQL("DELETE FROM {table} WHERE {mine}").format(
                    table=sql.Identifier(name), mine=MINE[name]
                )
            )
        conn.commit()
    return time.perf_counter() - start


def measure(
    database_url: str, args: argparse.Namespace, shape: dict[str, dict[str, int]]
) -> dict[str, Any]:
    os.environ.update(
        # Django's own database is not used; the bench database keeps it off the developer's.
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        DSAR_VAR_DIR=args.var_dir,
        **{URL_ENV: database_url},
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    from dsar.celery import freeze_start_up_heap

    # What the Celery worker does once started (dsar/celery.py), before it runs a change.
    freeze_start_up_heap()

    from controllers.models import Right
    from controllers.policy import normalise
    from controllers.systems import KIND_SCHEMAS, canonical, spec_of, validate_systems
    from fulfilment.changes.plans import table_entry
    from fulfilment.systems.connectors import sqlchange
    from fulfilment.systems.connectors.sql import index_warnings

    assert not settings.DEBUG, "measure what production runs"
    data = normalise({"schema": 1, "controller": "bench", "systems": [SYSTEM]})
    validate_systems(data, "bench/erase")
    spec = spec_of(canonical(data["systems"][0], KIND_SCHEMAS["sql"]))
    # A search that read a whole table would measure a missing index, not the erasure.
    assert not index_warnings(spec), index_warnings(spec)
    identities = {"email": SUBJECT}
    key = os.urandom(32)
    now = timezone.now()

    # The plan, as plans.py makes it: each table's entry and the dry run's count.
    start = time.perf_counter()
    counts = sqlchange.count(spec, identities)
    count_s = time.perf_counter() - start
    assert counts == {name: shape[name]["subject"] for name in TABLES}, counts
    entries = [table_entry(Right.ERASURE, spec, table, now) for table in spec.tables]
    # As fulfilment.changes.execute passes them: by table, the tables left alone left out.
    changes = {
        e["table"]: {**e, "rows": counts[e["table"]]}
        for e in entries
        if e["op"] not in ("none", "keep")
    }
    assert {name: change["op"] for name, change in changes.items()} == dict.fromkeys(
        TABLES, "delete"
    ), changes

    def product() -> tuple[float, float]:
        start = time.perf_counter()
        applied = sqlchange.apply(spec, identities, changes, now=now, key=key)
        middle = time.perf_counter()
        problems = sqlchange.verify(spec, identities, changes, applied)
        end = time.perf_counter()
        assert applied.rows == counts, applied.rows
        assert problems == [], problems
        assert sqlchange.remove_files(None, applied.files) == (0, []), applied.files
        return middle - start, end - middle

    bases: list[float] = []
    applies: list[float] = []
    verifies: list[float] = []
    for _ in range(args.runs):
        restore(database_url)
        bases.append(baseline(database_url))
        check(database_url, shape, "baseline")
        restore(database_url)
        apply_s, verify_s = product()
        applies.append(apply_s)
        verifies.append(verify_s)
        check(database_url, shape, "apply")

    profile = ""
    if args.profile:
        restore(database_url)
        profile = profiled(product, args.profile)
        check(database_url, shape, "apply (profiled)")
    return {
        "count": count_s,
        "baseline": bases,
        "apply": applies,
        "verify": verifies,
        "profile": profile,
    }


def report(args: argparse.Namespace, shape: dict[str, dict[str, int]], results: dict) -> None:
    subject = sum(shape[name]["subject"] for name in TABLES)
    others = sum(shape[name]["others"] for name in TABLES)
    bases, applies, verifies = results["baseline"], results["apply"], results["verify"]
    both = [a + v for a, v in zip(applies, verifies, strict=True)]
    base_s = statistics.median(bases)
    apply_s = statistics.median(applies)
    verify_s = statistics.median(verifies)
    both_s = statistics.median(both)
    print(
        f"rows of the subject          : {subject:>12,} ("
        + ", ".join(f"{name} {shape[name]['subject']:,}" for name in TABLES)
        + f"; and {others:,} of {args.people:,} other people, all kept)"
    )
    print(f"foreign keys                 : {'no' if args.no_foreign_keys else 'yes'}")
    print(f"dry run (count, the plan's)  : {results['count']:8.3f} s (once, not in the ratios)")
    print(f"median of {args.runs} interleaved rounds (baseline, apply + verify):")
    print(f"3 DELETEs (baseline)         : {base_s:8.3f} s {subject / base_s:>10,.0f} rows/s")
    print(f"apply                        : {apply_s:8.3f} s {subject / apply_s:>10,.0f} rows/s")
    print(f"verify                       : {verify_s:8.3f} s")
    print(f"apply + verify               : {both_s:8.3f} s {subject / both_s:>10,.0f} rows/s")
    print(
        "each round (baseline / apply / verify, s): "
        + ", ".join(
            f"{b:.3f} / {a:.3f} / {v:.3f}" for b, a, v in zip(bases, applies, verifies, strict=True)
        )
    )
    if results["profile"]:
        print(results["profile"])
    print(f"ratio apply/DELETE          : {apply_s / base_s:8.3f}")
    print(f"ratio apply+verify/DELETE   : {both_s / base_s:8.3f}")


if __name__ == "__main__":
    main()
