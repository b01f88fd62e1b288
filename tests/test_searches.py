"""Searches: the retry schedule of a system that cannot be reached, what an officer does with
a search (retry, skip), the lease that keeps two workers off one search, and a real worker
killed in the middle of a search whose work the sweep hands to the next worker, exactly once."""

from __future__ import annotations

import datetime as dt
import itertools
import signal
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import time_machine
import tomli_w
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cases import events
from cases.actors import Actor
from cases.audit import note, verify_chain
from cases.models import Case, CaseEvent, OutgoingMail, State
from cases.workflow import perform
from controllers.access import reminder_addresses
from controllers.systems import load_systems_files, spec_of
from fulfilment.models import Search, SearchStatus
from fulfilment.searches import collect
from fulfilment.searches.collect import (
    case_folder,
    identities_for,
    reader,
    record_run,
    retry,
    run,
    run_folder,
    skip,
    sweep,
)
from fulfilment.systems.connectors.sql import SqlSource
from fulfilment.systems.jobs import MAX_ATTEMPTS, RETRY_AFTER, lease

from .demo_world import supply_letter_items
from .procs import BIN, PATIENCE, Proc, demo_env, free_port, with_celery_app

pytestmark = pytest.mark.usefixtures("english")

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
FULFILMENT_EVENTS = (
    "search_started",
    "system_searched",
    "system_failed",
    "system_retried",
    "system_skipped",
)
# What the subject (jan@example.org, submit's default) has in every test system: two accounts
# (one address in capitals) and three orders; Piet's rows must never be found.
CUSTOMERS = [(1, "jan@example.org", "Jan"), (2, "JAN@example.org", "Jan J."), (3, "p@x.org", "P")]
ORDERS = [(10, 1, "phone"), (11, 1, "case"), (12, 2, "charger"), (13, 3, "tablet")]
FOUND = {"customers": 2, "orders": 3}


def _column(name: str) -> dict[str, str]:
    return {"name": name, "category": "Registratie-informatie"}


def sql_system(name: str, url_env: str, *, timeout: int = 30) -> dict[str, Any]:
    return {
        "name": name,
        "title": f"{name.upper()} database",
        "kind": "sql",
        "owner": f"{name}@smart-site.example",
        "url_env": url_env,
        "timeout_seconds": timeout,
        "tables": [
            {
                "name": "customers",
                "key": "id",
                "identities": {"email": "email"},
                "columns": [_column("id"), _column("email"), _column("name")],
            },
            {
                "name": "orders",
                "key": "id",
                "reached_from": {
                    "table": "customers",
                    "column": "customer_id",
                    "parent_column": "id",
                },
                "columns": [_column("id"), _column("customer_id"), _column("item")],
            },
        ],
    }


def load(tmp_path: Path, *systems: dict[str, Any]) -> None:
    """Smart-Site (cast.a) with the test's own systems, through the loader."""
    path = tmp_path / "smart-site-systems.toml"
    path.write_text(
        tomli_w.dumps({"schema": 1, "controller": "smart-site", "systems": list(systems)})
    )
    load_systems_files([path])


def sqlite_database(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, item TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)", CUSTOMERS)
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", ORDERS)
    db.close()
    return f"sqlite:///{path}"


def unreachable() -> str:
    """A PostgreSQL URL where nothing listens: the connection is refused at once."""
    return f"postgresql://nobody@127.0.0.1:{free_port()}/crm"


def fulfilment_events(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, action__in=FULFILMENT_EVENTS).order_by("seq"))


def staged(search: Search) -> dict[str, list[int]]:
    """The keys of the rows the search's finished run holds, by table."""
    stage = reader(search)
    assert stage is not None
    return {table: [row["id"] for row in stage.rows(table)] for table in FOUND}


def sealed_runs(case: Case) -> list[Path]:
    """The run folders of a case that hold a finished run (a killed run leaves no manifest)."""
    folder = case_folder(case)
    return sorted(p for p in folder.iterdir() if (p / "manifest.json").exists())


# --- 1. The retry schedule.


def test_the_schedule_is_at_least_five_tries_over_at_least_a_day():
    assert MAX_ATTEMPTS == len(RETRY_AFTER) + 1 == 7
    assert MAX_ATTEMPTS >= 5
    assert sum(RETRY_AFTER) >= 24 * 3600
    assert list(RETRY_AFTER) == sorted(set(RETRY_AFTER))  # backing off: every wait longer


def test_an_unreachable_system_is_retried_on_the_schedule_then_failed_and_the_officers_told(
    cast, submit, tmp_path, monkeypatch
):
    load(tmp_path, sql_system("crm", "DSAR_TEST_CRM_URL"))
    monkeypatch.setenv("DSAR_TEST_CRM_URL", unreachable())
    cast.officer_a.email = "officer@smart-site.example"
    cast.officer_a.save()

    with time_machine.travel(T0, tick=False) as clock:
        case = submit(cast.a)  # identity settled: the search starts, and its first try fails
        (search,) = case.searches.all()
        assert (search.status, search.attempts) == (SearchStatus.PENDING, 1)
        assert search.next_attempt_at == T0 + dt.timedelta(seconds=RETRY_AFTER[0])
        assert "OperationalError" in search.error and search.lease_until is None
        tries = [T0]
        for number in range(2, MAX_ATTEMPTS + 1):
            due = search.next_attempt_at
            assert sweep(now=due - SECOND) == 0  # not before its time
            clock.move_to(due)
            assert sweep(now=due) == 1  # runs it (eagerly, in this process), and it fails again
            search.refresh_from_db()
            assert search.attempts == number
            tries.append(due)
            if number < MAX_ATTEMPTS:
                assert search.status == SearchStatus.PENDING
                wait = dt.timedelta(seconds=RETRY_AFTER[number - 1])
                assert search.next_attempt_at == due + wait
                # A try that will be retried tells nobody and writes nothing in the record.
                assert [e.action for e in fulfilment_events(case)] == ["search_started"]
                assert not OutgoingMail.objects.filter(kind="search_failed").exists()

        assert [b - a for a, b in itertools.pairwise(tries)] == [
            dt.timedelta(seconds=s) for s in RETRY_AFTER
        ]
        assert tries[-1] - tries[0] == dt.timedelta(seconds=sum(RETRY_AFTER))
        assert tries[-1] - tries[0] >= dt.timedelta(hours=24)
        assert search.status == SearchStatus.FAILED
        assert search.next_attempt_at is None and search.lease_until is None
        assert "OperationalError" in search.error

        started, failed = fulfilment_events(case)
        assert (started.action, failed.action) == ("search_started", "system_failed")
        assert failed.at == tries[-1] and failed.actor_kind == "system"
        assert failed.data == {
            "system": "CRM database",
            "error": search.error,
            "attempts": MAX_ATTEMPTS,
        }
        # The officers (who decide about the case) and the system's owner (who can mend it).
        sent = OutgoingMail.objects.filter(kind="search_failed").order_by("pk")
        assert reminder_addresses(cast.a) == ["officer@smart-site.example"]
        assert [m.to for m in sent] == ["officer@smart-site.example", "crm@smart-site.example"]
        for mail in sent:
            assert mail.case == case
            assert mail.context == {"system": "CRM database", "error": search.error}

        # Failed for good: the sweep leaves it alone, a late task does nothing, nobody is told
        # twice.
        clock.move_to(tries[-1] + dt.timedelta(days=3))
        assert sweep() == 0
        run(search.pk)
        search.refresh_from_db()
        assert (search.status, search.attempts) == (SearchStatus.FAILED, MAX_ATTEMPTS)
        assert OutgoingMail.objects.filter(kind="search_failed").count() == 2
        assert len(fulfilment_events(case)) == 2


# --- 2. What the officer does: retry, skip; the response waits for every search.


def test_retry_and_skip_settle_the_searches_and_the_response_waits_until_they_are(
    cast, submit, committed, tmp_path, monkeypatch
):
    load(
        tmp_path,
        sql_system("crm", "DSAR_TEST_CRM_URL"),
        sql_system("shop", "DSAR_TEST_SHOP_URL"),
    )
    monkeypatch.setenv("DSAR_TEST_CRM_URL", unreachable())
    monkeypatch.setenv("DSAR_TEST_SHOP_URL", unreachable())
    officer = Actor.officer(cast.officer_a)
    stranger = Actor.officer(cast.officer_b)  # an officer of another controller

    case = submit(cast.a)
    crm, shop = case.searches.order_by("pk")
    assert (crm.system_name, shop.system_name) == ("crm", "shop")
    assert crm.status == shop.status == SearchStatus.PENDING

    def prepare() -> Case:
        return perform(case, "prepare_response", actor=officer, response="Here is your data.")

    with pytest.raises(ValidationError) as refused:
        prepare()
    assert "CRM database, SHOP database" in refused.value.messages[0]
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS

    # The CRM's last try fails: failed, and it still holds the response back.
    Search.objects.filter(pk=crm.pk).update(
        attempts=MAX_ATTEMPTS - 1, next_attempt_at=timezone.now() - SECOND
    )
    assert sweep() == 1  # the shop's next try is a minute away
    crm.refresh_from_db()
    assert crm.status == SearchStatus.FAILED
    with pytest.raises(ValidationError):
        prepare()

    # The officer repairs the connection and tries again: a fresh count of tries, one try, done.
    monkeypatch.setenv("DSAR_TEST_CRM_URL", sqlite_database(tmp_path / "crm.sqlite3"))
    with pytest.raises(PermissionDenied):
        retry(crm, actor=stranger)
    committed(retry, crm, actor=officer)
    crm.refresh_from_db()
    assert crm.status == SearchStatus.DONE
    assert crm.attempts == 1 and crm.error == "" and crm.next_attempt_at is None
    assert crm.counts == FOUND and crm.finished_at is not None
    assert staged(crm) == {"customers": [1, 2], "orders": [10, 11, 12]}
    retried, searched = fulfilment_events(case)[-2:]
    assert (retried.action, retried.actor_kind) == ("system_retried", "officer")
    assert retried.data == {"system": "CRM database"}
    assert searched.action == "system_searched"
    assert searched.data == {"system": "CRM database", "rows": FOUND, "files": 0}
    with pytest.raises(ValidationError):
        retry(crm, actor=officer)  # done: nothing to try again

    # One search still unsettled: the response waits for it, and names only it.
    with pytest.raises(ValidationError) as refused:
        prepare()
    assert "SHOP database" in refused.value.messages[0]
    assert "CRM database" not in refused.value.messages[0]

    # Skipping needs the controller's officer and a reason.
    with pytest.raises(ValidationError):
        skip(shop, actor=officer, reason="   ")
    with pytest.raises(PermissionDenied):
        skip(shop, actor=stranger, reason="Not ours")
    shop.refresh_from_db()
    assert shop.status == SearchStatus.PENDING
    skip(shop, actor=officer, reason="Shut down in 2025; its data was deleted then.")
    shop.refresh_from_db()
    assert shop.status == SearchStatus.SKIPPED and shop.settled
    assert shop.answered_by == cast.officer_a and shop.answered_at is not None
    assert shop.answer_note == "Shut down in 2025; its data was deleted then."
    assert shop.next_attempt_at is None
    skipped = fulfilment_events(case)[-1]
    assert skipped.action == "system_skipped" and skipped.actor == cast.officer_a
    assert skipped.data == {
        "system": "SHOP database",
        "reason": "Shut down in 2025; its data was deleted then.",
    }
    with pytest.raises(ValidationError):
        skip(shop, actor=officer, reason="Again")  # settled already
    assert sweep() == 0  # nothing left to run

    # The letter's items the statement is silent on, as the officer supplies them.
    supply_letter_items(lambda work, *a, **k: work(*a, **k), case, cast.officer_a)
    case = prepare()
    assert case.state == State.READY
    assert CaseEvent.objects.filter(case=case).last().action == "prepare_response"


# --- 3. The lease.


def test_a_live_lease_is_not_stolen_and_an_expired_one_is_taken_up_by_the_sweep(
    cast, submit, tmp_path, monkeypatch
):
    load(tmp_path, sql_system("crm", "DSAR_TEST_CRM_URL"))
    monkeypatch.setenv("DSAR_TEST_CRM_URL", sqlite_database(tmp_path / "crm.sqlite3"))
    published: list[int] = []
    monkeypatch.setattr(collect.SEARCHES, "enqueue", published.append)  # the broker, as a list

    case = submit(cast.a)
    (search,) = case.searches.all()
    assert published == [search.pk]
    assert (search.status, search.attempts) == (SearchStatus.PENDING, 0)

    # A worker takes it, and dies in the middle of the search.
    now = timezone.now()
    held = collect.SEARCHES.claim(search.pk, now=now)
    assert held is not None and held.status == SearchStatus.RUNNING
    assert held.attempts == 1 and held.lease_until == now + lease()

    # While its lease runs, nobody else takes it: not a second worker, not the sweep.
    assert collect.SEARCHES.claim(search.pk, now=held.lease_until - SECOND) is None
    run(search.pk)  # a redelivered task, now
    published.clear()
    assert sweep(now=held.lease_until - SECOND) == 0 and sweep() == 0
    assert published == []
    search.refresh_from_db()
    assert (search.status, search.attempts) == (SearchStatus.RUNNING, 1)
    assert search.lease_until == held.lease_until

    # Once the lease has run out, the sweep publishes it again and the next worker runs it.
    assert sweep(now=held.lease_until + SECOND) == 1 and published == [search.pk]
    Search.objects.filter(pk=search.pk).update(lease_until=timezone.now() - SECOND)
    published.clear()
    assert sweep() == 1 and published == [search.pk]
    run(search.pk)
    search.refresh_from_db()
    assert search.status == SearchStatus.DONE and search.attempts == 2
    assert search.counts == FOUND and search.lease_until is None

    # The dead worker comes back and finishes its own run late: it is thrown away.
    spec = spec_of(held.system.spec)
    record_run(held, SqlSource(spec).search(identities_for(case)))
    # ... and a task delivered again finds the search done.
    run(search.pk)
    finished = Search.objects.get(pk=search.pk)
    assert (finished.run_id, finished.attempts) == (search.run_id, 2)
    assert sealed_runs(case) == [run_folder(finished)]
    assert staged(finished) == {"customers": [1, 2], "orders": [10, 11, 12]}
    searched = [e for e in fulfilment_events(case) if e.action == "system_searched"]
    assert len(searched) == 1 and searched[0].data["rows"] == FOUND


# --- 4. A real worker killed mid-search (PostgreSQL, Redis, Celery worker processes).

# A database whose "customers" is a view that stalls while ``stall_while`` has a row: the
# worker's search sits in pg_sleep until the test has killed it and emptied the table.
SLOW_SCHEMA = """
CREATE TABLE stall_while (flag boolean);
INSERT INTO stall_while VALUES (true);
CREATE FUNCTION stall() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM stall_while);
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN true;
END $$;
CREATE TABLE customer_rows (id integer PRIMARY KEY, email text NOT NULL, name text NOT NULL);
CREATE VIEW customers AS SELECT id, email, name FROM customer_rows WHERE stall();
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, item text NOT NULL);
"""


@pytest.fixture
def slow_db(live_db_url):
    """A PostgreSQL database of the test's own, the slow system's."""
    import psycopg

    # SQLAlchemy knows PostgreSQL as postgresql:// only.
    server = live_db_url.rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1)
    name = f"dsar_slow_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(SLOW_SCHEMA)
            with db.cursor() as cursor:
                cursor.executemany("INSERT INTO customer_rows VALUES (%s, %s, %s)", CUSTOMERS)
                cursor.executemany("INSERT INTO orders VALUES (%s, %s, %s)", ORDERS)
        yield url
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _slow_db_query(url: str, sql: str) -> Any:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute(sql).fetchone()
    return row[0] if row else None


def _wait(condition, what: str, worker: Proc, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{worker.output[-4000:]}")
        time.sleep(0.1)


# The workers' lease in the killed-worker tests: short, so the test need not wait long, and
# twice the heartbeat's interval (a third of it) longer than a busy machine delays a beat.
LEASE_SECONDS = 6


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_search_leaves_it_to_the_sweep_and_it_finishes_once(
    cast, submit, tmp_path, monkeypatch, settings, live_db_url, redis_url, slow_db
):
    load(tmp_path, sql_system("crm", "DSAR_TEST_SLOW_URL", timeout=120))
    monkeypatch.setattr(
        collect.SEARCHES, "enqueue", lambda pk: None
    )  # this process searches nothing
    case = submit(cast.a)
    (search,) = case.searches.all()
    assert search.status == SearchStatus.PENDING

    env = demo_env(
        tmp_path,
        DATABASE_URL=live_db_url,
        DJANGO_SETTINGS_MODULE="dsar.settings",
        REDIS_URL=redis_url,
        DSAR_TEST_SLOW_URL=slow_db,
        DSAR_FULFILMENT_LEASE_SECONDS=str(LEASE_SECONDS),
        # The workers seal runs and chain events with this process's keys, so it can read them.
        DSAR_ID_DOCUMENT_KEY=settings.ID_DOCUMENT_KEY,
        DSAR_AUDIT_KEY=settings.AUDIT_KEY,
    )
    assert Path(env["DSAR_VAR_DIR"]) / "media" == Path(settings.MEDIA_ROOT)  # same files
    worker_args = [str(BIN / "celery"), "-A", "dsar", "worker", "--pool=solo", "--loglevel=INFO"]
    sleeping = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event = 'PgSleep'"
    )

    with Proc(worker_args, env) as worker:
        worker.wait_for(r"ready\.")
        with_celery_app(f"app.send_task('fulfilment.collect', args=[{search.pk}])", env)

        def stalled() -> bool:
            failed = Search.objects.filter(pk=search.pk).exclude(error="").first()
            assert failed is None, failed.error  # the search ended before it reached the view
            return _slow_db_query(slow_db, sleeping) > 0

        _wait(stalled, "the search to stall", worker)
        # A live search slower than its lease keeps it: the worker's heartbeat renews it, so
        # the sweep starts no second run beside it.
        time.sleep(2 * LEASE_SECONDS)
        search.refresh_from_db()
        assert (search.status, search.attempts) == (SearchStatus.RUNNING, 1)
        assert search.lease_until > timezone.now()
        assert collect.SEARCHES.claim(search.pk) is None
        worker.stop(signal.SIGKILL)  # mid-search: no fail(), no finish(), the lease stays

    search.refresh_from_db()
    assert (search.status, search.attempts) == (SearchStatus.RUNNING, 1)
    assert search.run_id == "" and search.counts == {}
    assert search.lease_until is not None
    assert [e.action for e in fulfilment_events(case)] == ["search_started"]
    assert sealed_runs(case) == []  # the killed run sealed nothing
    _slow_db_query(slow_db, "DELETE FROM stall_while RETURNING flag")  # fast from now on

    with Proc(worker_args, env) as worker:
        worker.wait_for(r"ready\.")
        # The killed worker's lease runs out; beat's sweep (sent here by hand) takes it up.
        _wait(lambda: timezone.now() > search.lease_until + SECOND, "the lease", worker)
        with_celery_app("app.send_task('fulfilment.sweep_collections')", env)
        # The task keeps its name (a queued task survives a deploy by it): rename:keep
        worker.wait_for(r"Task fulfilment\.sweep_collections\[[0-9a-f-]+\] succeeded.*: 1\b")
        worker.wait_for(r"Task fulfilment\.collect\[[0-9a-f-]+\] succeeded")
        # The killed worker's task, delivered again late, finds the search done.
        with_celery_app(f"app.send_task('fulfilment.collect', args=[{search.pk}])", env)
        worker.wait_for(r"(?s)(Task fulfilment\.collect\[[0-9a-f-]+\] succeeded.*){2}")

    search.refresh_from_db()
    assert search.status == SearchStatus.DONE
    assert search.attempts == 2 and search.error == ""
    assert search.lease_until is None and search.next_attempt_at is None
    assert search.counts == FOUND
    assert sealed_runs(case) == [run_folder(search)]
    assert staged(search) == {"customers": [1, 2], "orders": [10, 11, 12]}
    events = fulfilment_events(case)
    assert [e.action for e in events] == ["search_started", "system_searched"]
    assert events[1].data == {"system": "CRM database", "rows": FOUND, "files": 0}


def test_a_search_recorded_under_its_old_name_reads_as_a_search_and_its_chain_holds(
    cast, submit, client
):
    """Issue 22 renamed the event, never an old record: one written before the rename keeps
    its name and its hash, and reads like the new one on the case page."""
    case = submit(cast.a)
    old = note(
        case,
        actor=Actor.system(),
        action="collection_started",  # rename:keep
        at=timezone.now(),
        data={"systems": ["CRM database"], "identities": ["email"]},
    )
    assert events.label(old.action) == events.label("search_started")
    assert events.label(old.action) == "Search of the controller's systems started"
    assert events.describe(old) == ["Systems: CRM database", "Searched by: email"]
    assert verify_chain(case) is None

    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    page = client.get(f"/admin/dsar/case/{case.pk}/change/")
    assert page.status_code == 200
    assert "Search of the controller&#x27;s systems started" in page.text


def test_a_search_s_page_at_its_old_address_is_the_same_page_at_its_new_one(cast, client):
    """Bookmarks and pages loaded before issue 22's rename: a 308 keeps a posted form posted."""
    client.force_login(cast.officer_a)
    old = "/admin/fulfilment/collection/7/table/orders/?page=2"  # rename:keep
    moved = client.get(old)
    assert (moved.status_code, moved["Location"]) == (
        308,
        "/admin/fulfilment/search/7/table/orders/?page=2",
    )
    posted = client.post("/admin/fulfilment/collection/7/retry/", {})  # rename:keep
    assert (posted.status_code, posted["Location"]) == (308, "/admin/fulfilment/search/7/retry/")
