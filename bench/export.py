"""Export of one subject's rows: a million rows of one person in PostgreSQL, searched by the SQL
connector into sealed staged files and zipped as the package does, against PostgreSQL's own
COPY of the same rows, measured in the same run (DEBUG off).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.export

It creates and drops its own database (bench.common) holding one log table, ``events``, whose
``--rows`` rows all carry the subject's address, plus ``--others`` rows of other people, and an
index on ``lower(email)`` (what the connector's case-insensitive search and the loader's index
check want). Three measurements:

- baseline: ``COPY (SELECT ...) TO STDOUT WITH CSV`` through psycopg, the same columns, the same
  condition and the same order as the connector's query: the fastest the database hands over
  those rows;
- search+stage: ``SqlSource(spec).search`` feeding a ``Stage`` (JSON lines and CSV, sealed), the
  path a search runs;
- zip: the package's own ``Assembly.zip`` over the staged tables (deflate level, chunking,
  hashing of every member, the ZIP sealed into the vault as ``package.build`` does), without the
  case's index page, letter and manifest, whose cost does not depend on the rows.

Search+stage and zip each run in a fresh interpreter of their own, so the peak RSS each reports
is that path's alone (Django's imports included), not the loader's or the baseline's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from bench.common import bench_database

if TYPE_CHECKING:  # importing it needs Django set up, which only the measuring processes do
    from controllers.systems import SystemSpec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUBJECT = "Subject.Person@Example.org"  # mixed case: the search compares lower(email)
URL_ENV = "DSAR_BENCH_EXPORT_URL"
KEY_ENV = "DSAR_BENCH_EXPORT_KEY"
COLUMNS = ("id", "email", "at", "kind", "payload")
MB = 1_000_000
# The goal for the search's process at 1,000,000 rows: memory that does not grow with the rows.
RSS_GOAL = 250 * MB

# The system as a controller's systems file would declare it (controllers/systems/format.py).
SYSTEM: dict[str, Any] = {
    "name": "event-log",
    "title": "Event log",
    "kind": "sql",
    "url_env": URL_ENV,
    "timeout_seconds": 3600,  # a million rows are not read within the default 30 s
    "tables": [
        {
            "name": "events",
            "label": "Events",
            "key": "id",
            "identities": {"email": "email"},
            "erasure": "delete",
            "columns": [{"name": name, "category": "Activity"} for name in COLUMNS],
        }
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the subject")
    parser.add_argument("--others", type=int, default=1_000, help="rows of other people")
    parser.add_argument("--runs", type=int, default=3, help="rounds; the medians are shown")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    # Internal: one measured path in a fresh interpreter (see the module's docstring).
    parser.add_argument("--child", choices=["stage", "zip"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, Path(args.folder), args)
        print("RESULT " + json.dumps(result))
        return

    base = Path(args.var_dir) / f"export-{os.getpid()}"
    copies: list[float] = []
    stages: list[dict[str, Any]] = []
    zips: list[dict[str, Any]] = []
    try:
        with bench_database() as database_url:
            fill(database_url, args.rows, args.others)
            env = {**os.environ, URL_ENV: database_url, KEY_ENV: os.urandom(32).hex()}
            copy_bytes = copy_out(database_url)[1]  # warm-up: the table into the page cache
            # Rounds of the three, interleaved: the machine is shared, and a busy minute then
            # slows the baseline and the product alike instead of one of them.
            for number in range(args.runs):
                folder = base / str(number)
                copies.append(copy_out(database_url)[0])
                stages.append(run_child("stage", folder, args, env))
                zips.append(run_child("zip", folder, args, env))
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert all(staged["rows"] == args.rows for staged in stages), stages

    rows, staged, zipped = args.rows, stages[-1], zips[-1]
    copy_s = statistics.median(copies)
    stage_s = statistics.median(s["seconds"] for s in stages)
    zip_s = statistics.median(z["seconds"] for z in zips)
    stage_peak = max(s["peak"] for s in stages)
    zip_peak = max(z["peak"] for z in zips)
    print(f"rows of the subject          : {rows:>12,} (and {args.others:,} of others)")
    print(f"median of {args.runs} interleaved rounds (COPY, search+stage, zip):")
    print(
        f"COPY TO STDOUT (baseline)   : {copy_s:8.2f} s {copy_bytes / MB / copy_s:8.1f}"
        f" MB/s {rows / copy_s:>10,.0f} rows/s ({copy_bytes / MB:.1f} MB of CSV)"
    )
    print(
        f"search+stage (sealed files) : {stage_s:8.2f} s {copy_bytes / MB / stage_s:8.1f}"
        f" MB/s {rows / stage_s:>10,.0f} rows/s (staged: {staged['csv'] / MB:.1f} MB CSV,"
        f" {staged['jsonl'] / MB:.1f} MB JSON lines)"
    )
    print(
        f"  peak RSS                   : {stage_peak / MB:8.1f} MB"
        f" ({staged['before'] / MB:.1f} MB before the search;"
        f" goal at 1,000,000 rows: {RSS_GOAL / MB:.0f} MB)"
    )
    print(
        f"zip of the staged tables    : {zip_s:8.2f} s {zipped['input'] / MB / zip_s:8.1f}"
        f" MB/s in ({zipped['input'] / MB:.1f} MB JSON and CSV -> {zipped['zip'] / MB:.1f} MB ZIP)"
    )
    print(
        f"  peak RSS                   : {zip_peak / MB:8.1f} MB"
        f" ({zipped['before'] / MB:.1f} MB before the zip)"
    )
    print(
        "each round (COPY / search+stage / zip, s): "
        + ", ".join(
            f"{c:.2f} / {s['seconds']:.2f} / {z['seconds']:.2f}"
            for c, s, z in zip(copies, stages, zips, strict=True)
        )
    )
    print(f"ratio search+stage/COPY     : {stage_s / copy_s:8.3f}")
    print(f"ratio zip/COPY              : {zip_s / copy_s:8.3f}")
    print(f"ratio export/COPY           : {(stage_s + zip_s) / copy_s:8.3f}")


def fill(database_url: str, rows: int, others: int) -> None:
    """The controller's log table: the subject's rows, then other people's, in one INSERT ...
    SELECT each; a payload of 100 characters a row."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, email text NOT NULL, "
            "at timestamptz NOT NULL, kind text NOT NULL, payload text NOT NULL)"
        )
        insert = (
            "INSERT INTO events SELECT n, {email}, "
            "timestamptz '2025-01-01 00:00:00+00' + n * interval '1 second', "
            "(ARRAY['login', 'page_view', 'search', 'logout'])[1 + n % 4], "
            "md5(n::text) || md5((-n)::text) || left(md5((n * 7)::text), 36) "
            "FROM generate_series({first}, {last}) AS n"
        )
        conn.execute(
            sql.SQL(insert).format(
                email=sql.Literal(SUBJECT), first=sql.Literal(1), last=sql.Literal(rows)
            )
        )
        conn.execute(
            sql.SQL(insert).format(
                email=sql.SQL("'other' || (n % 100) || '@example.org'"),
                first=sql.Literal(rows + 1),
                last=sql.Literal(rows + others),
            )
        )
        conn.execute("CREATE INDEX events_lower_email ON events (lower(email))")
        conn.execute("VACUUM ANALYZE events")


def copy_out(database_url: str) -> tuple[float, int]:
    """Seconds and bytes of the subject's rows as CSV from COPY, read and dropped."""
    query = sql.SQL(
        "COPY (SELECT {columns} FROM events WHERE lower(email) = {subject} ORDER BY id) "
        "TO STDOUT WITH CSV"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        subject=sql.Literal(SUBJECT.lower()),
    )
    size = 0
    start = time.perf_counter()
    with (
        psycopg.connect(database_url) as conn,
        conn.cursor() as cursor,
        cursor.copy(query) as copy,
    ):
        for data in copy:
            size += len(data)
    return time.perf_counter() - start, size


def run_child(
    phase: str, folder: Path, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.export", "--child", phase, "--folder", str(folder)]
    command += ["--rows", str(args.rows), "--var-dir", args.var_dir]
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"the {phase} process failed ({done.returncode}): {done.stdout[-2000:]}")
    return json.loads(done.stdout.rsplit("RESULT ", 1)[1])


def peak_rss() -> int:
    """This process's peak resident set so far, in bytes (Linux counts kilobytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def child(phase: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(
        # Django's own database is not used; the bench database keeps it off the developer's.
        DATABASE_URL=os.environ[URL_ENV],
        DJANGO_SETTINGS_MODULE="bench.settings",
        DSAR_VAR_DIR=args.var_dir,
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings

    from dsar.celery import freeze_start_up_heap

    # What the Celery worker does once started (dsar/celery.py), before it runs these tasks.
    freeze_start_up_heap()

    from controllers.systems import KIND_SCHEMAS, canonical, spec_of, validate_systems

    assert not settings.DEBUG, "measure what production runs"
    validate_systems({"schema": 1, "controller": "bench", "systems": [SYSTEM]}, "bench/export")
    spec = spec_of(canonical(SYSTEM, KIND_SCHEMAS["sql"]))
    key = bytes.fromhex(os.environ[KEY_ENV])
    if phase == "stage":
        return stage(spec, folder, key)
    return zip_package(spec, folder, key, args.rows)


def stage(spec: SystemSpec, folder: Path, key: bytes) -> dict[str, Any]:
    """The search's path (``collect.record_run`` without its bookkeeping): every batch the
    search yields goes into the stage as it comes."""
    from fulfilment.searches.staging import Stage
    from fulfilment.systems.connectors.sql import SqlSource, index_warnings

    # A search that read the whole table would measure a missing index, not the export.
    assert not index_warnings(spec), index_warnings(spec)
    before = peak_rss()
    start = time.perf_counter()
    target = Stage(folder, key)
    for batch in SqlSource(spec).search({"email": SUBJECT}):
        target.add(batch)
    manifest = target.close()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows": manifest["tables"]["events"]["rows"],
        "csv": (folder / "events.csv").stat().st_size,
        "jsonl": (folder / "events.jsonl").stat().st_size,
        "before": before,
        "peak": peak_rss(),
    }


def zip_package(spec: SystemSpec, folder: Path, key: bytes, rows: int) -> dict[str, Any]:
    """The package's ZIP of the staged tables, written sealed as ``package.build`` writes it."""
    from django.utils import timezone

    from controllers.models import Right
    from fulfilment.models import Search
    from fulfilment.searches.package import Assembly, Rules
    from fulfilment.searches.staging import StageReader
    from fulfilment.systems import vault

    class TablesOnly(Assembly):
        """The package's members for the tables of one staged run, through its own ``_table``
        and ``zip``; no case is needed (the index, letter and manifest are left out)."""

        def __init__(self) -> None:  # no super(): that reads a case's searches
            self.kind = Right.ACCESS
            self.now = timezone.now()
            self.hashes: dict[str, dict[str, Any]] = {}
            self.rules: dict[tuple[str, str], Rules] = {}
            self.views = []
            self.withheld = []
            self.kept = {}  # no earlier erasure's kept rows

        def _members(self) -> Iterator[tuple[str, Iterable[bytes]]]:
            search = Search(system_name=spec.name, system_title=spec.title)
            reader = StageReader(folder, key)
            for table in spec.tables:
                yield from self._table(search, reader, table, "data")

    before = peak_rss()
    start = time.perf_counter()
    assembly = TablesOnly()
    digest = hashlib.sha256()
    with vault.Writer(folder / "package.zip", key) as writer:
        for chunk in assembly.zip():
            digest.update(chunk)
            writer.write(chunk)
    seconds = time.perf_counter() - start
    # The package's JSON counted every staged row: the ZIP holds them all, not a part.
    assert [view.rows for view in assembly.views] == [rows], [v.rows for v in assembly.views]
    return {
        "seconds": seconds,
        "input": sum(member["size"] for member in assembly.hashes.values()),
        "zip": writer.size,
        "before": before,
        "peak": peak_rss(),
    }


if __name__ == "__main__":
    main()
