"""A real Celery worker killed in the middle of an erasure (PostgreSQL, Redis, worker processes):
the system's transaction dies with it, so nothing of the change happened; the sweep hands the
change to the next worker once the lease has run out, and the subject's rows go exactly once,
recorded once, with the approved plan's counts. A late redelivery of the killed worker's task
changes nothing."""

from __future__ import annotations

import signal
import time
import uuid

import pytest
from django.utils import timezone

from cases.actors import Actor
from cases.models import CaseEvent
from cases.workflow import perform
from fulfilment.changes import execute, plans
from fulfilment.models import ChangeStatus

from .procs import BIN, Proc, demo_env, with_celery_app
from .test_searches import (
    CUSTOMERS,
    LEASE_SECONDS,
    ORDERS,
    SECOND,
    _slow_db_query,
    _wait,
    load,
    sql_system,
)

pytestmark = pytest.mark.usefixtures("english")

# The customers' deletes stall while ``stall_while`` has a row (a BEFORE DELETE trigger), so
# the worker is killed with the orders already deleted inside its open transaction. The
# database checks its clients every second, as a server should, and so notices the dead one.
STALLING_SCHEMA = """
CREATE TABLE stall_while (flag boolean);
INSERT INTO stall_while VALUES (true);
CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM stall_while);
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN OLD;
END $$;
CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL, name text NOT NULL);
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, item text NOT NULL);
CREATE TRIGGER slow_delete BEFORE DELETE ON customers FOR EACH ROW EXECUTE FUNCTION stall();
"""


@pytest.fixture
def stalling_db(live_db_url):
    import psycopg

    server = live_db_url.rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1)
    name = f"dsar_stall_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'ALTER DATABASE "{name}" SET client_connection_check_interval = 500')
    url = f"{server}/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(STALLING_SCHEMA)
            with db.cursor() as cursor:
                cursor.executemany("INSERT INTO customers VALUES (%s, %s, %s)", CUSTOMERS)
                cursor.executemany("INSERT INTO orders VALUES (%s, %s, %s)", ORDERS)
        yield url
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ids(url: str, table: str) -> list[int]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        return [row[0] for row in db.execute(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_erasure_changes_nothing_and_the_next_erases_once(
    cast,
    submit,
    tmp_path,
    monkeypatch,
    settings,
    live_db_url,
    redis_url,
    stalling_db,
):
    load(tmp_path, sql_system("crm", "DSAR_TEST_STALL_URL", timeout=120))
    monkeypatch.setenv("DSAR_TEST_STALL_URL", stalling_db)
    monkeypatch.setattr(plans, "plan_soon", lambda pk: None)
    monkeypatch.setattr(execute.CHANGES, "enqueue", lambda pk: None)  # this process changes nothing
    case = submit(cast.a, right="erasure")
    plan = plans.make(case, actor=Actor.system())
    assert [t["rows"] for t in plan.body["systems"][0]["tables"]] == [2, 3]
    perform(case, "approve_plan", actor=Actor.officer(cast.officer_a), plan=plan.sha256)
    (change,) = case.changes.all()
    assert change.status == ChangeStatus.PENDING

    env = demo_env(
        tmp_path,
        DATABASE_URL=live_db_url,
        DJANGO_SETTINGS_MODULE="dsar.settings",
        REDIS_URL=redis_url,
        DSAR_TEST_STALL_URL=stalling_db,
        DSAR_FULFILMENT_LEASE_SECONDS=str(LEASE_SECONDS),
        DSAR_ID_DOCUMENT_KEY=settings.ID_DOCUMENT_KEY,
        DSAR_AUDIT_KEY=settings.AUDIT_KEY,
    )
    worker_args = [str(BIN / "celery"), "-A", "dsar", "worker", "--pool=solo", "--loglevel=INFO"]
    sleeping = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event = 'PgSleep'"
    )

    with Proc(worker_args, env) as worker:
        worker.wait_for(r"ready\.")
        with_celery_app(f"app.send_task('fulfilment.execute', args=[{change.pk}])", env)

        def stalled() -> bool:
            failed = type(change).objects.filter(pk=change.pk).exclude(error="").first()
            assert failed is None, failed.error
            return _slow_db_query(stalling_db, sleeping) > 0

        _wait(stalled, "the erasure to stall", worker)
        time.sleep(2 * LEASE_SECONDS)  # the heartbeat keeps the lease of a live change
        change.refresh_from_db()
        assert (change.status, change.attempts) == (ChangeStatus.RUNNING, 1)
        assert change.lease_until > timezone.now()
        worker.stop(signal.SIGKILL)  # orders deleted, customers not yet, nothing committed

    # The server notices the dead client and rolls its transaction back: every row is there.
    _wait(lambda: _slow_db_query(stalling_db, sleeping) == 0, "the dead session to end", worker)
    assert _ids(stalling_db, "orders") == [10, 11, 12, 13]
    assert _ids(stalling_db, "customers") == [1, 2, 3]
    change.refresh_from_db()
    assert change.status == ChangeStatus.RUNNING and change.counts == {}
    assert not CaseEvent.objects.filter(case=case, action="system_changed").exists()
    _slow_db_query(stalling_db, "DELETE FROM stall_while RETURNING flag")

    with Proc(worker_args, env) as worker:
        worker.wait_for(r"ready\.")
        _wait(lambda: timezone.now() > change.lease_until + SECOND, "the lease", worker)
        with_celery_app("app.send_task('fulfilment.sweep_executions')", env)
        # The task keeps its name (a queued task survives a deploy by it): rename:keep
        worker.wait_for(r"Task fulfilment\.sweep_executions\[[0-9a-f-]+\] succeeded.*: 1\b")
        worker.wait_for(r"Task fulfilment\.execute\[[0-9a-f-]+\] succeeded")
        # The killed worker's task, delivered again late, finds the change done.
        with_celery_app(f"app.send_task('fulfilment.execute', args=[{change.pk}])", env)
        worker.wait_for(r"(?s)(Task fulfilment\.execute\[[0-9a-f-]+\] succeeded.*){2}")

    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE, change.error
    assert change.attempts == 2 and change.counts == {"customers": 2, "orders": 3}
    assert _ids(stalling_db, "customers") == [3] and _ids(stalling_db, "orders") == [13]
    changed = CaseEvent.objects.filter(case=case, action="system_changed")
    assert changed.count() == 1 and changed.get().data["verified"] is True
