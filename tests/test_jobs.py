"""The job skeleton (``fulfilment.systems.jobs.JobKind``) and the connectors, one class a kind:
a system's kind picks its connector class, the Celery tasks keep their names, and a try run
with a set-back clock is dated by that clock throughout (claim, the search, its finish or its
failure), never by the wall clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine

from cases.models import CaseEvent
from controllers.models import SystemKind
from controllers.systems import spec_of
from dsar.celery import app
from fulfilment.models import SearchStatus
from fulfilment.searches import collect
from fulfilment.systems.connectors import CONNECTORS, connector_for
from fulfilment.systems.connectors.http import HttpConnector
from fulfilment.systems.connectors.sql import SqlConnector
from fulfilment.systems.jobs import RETRY_AFTER

from .test_searches import FOUND, load, sql_system, sqlite_database, unreachable

pytestmark = pytest.mark.usefixtures("english")

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_each_kind_a_worker_speaks_to_has_its_connector_class_and_a_manual_system_none(
    cast, tmp_path
):
    load(tmp_path, sql_system("crm", "DSAR_TEST_CRM_URL"))
    spec = spec_of(cast.a.systems.get(name="crm").spec)
    assert {SystemKind.SQL: SqlConnector, SystemKind.HTTP: HttpConnector} == CONNECTORS
    connector = connector_for(SystemKind.SQL, spec)
    assert isinstance(connector, SqlConnector) and connector.spec is spec
    assert connector_for(SystemKind.MANUAL, spec) is None


def test_the_tasks_keep_their_names_and_a_job_is_acknowledged_only_once_run():
    # Names a queued task was published under before a deploy must still find their task.
    for name in ("fulfilment.collect", "fulfilment.execute"):
        task = app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost
    assert {"fulfilment.sweep_collections", "fulfilment.sweep_executions"} <= set(app.tasks)


def test_a_search_run_with_a_set_back_clock_is_dated_by_it(cast, submit, tmp_path, monkeypatch):
    load(tmp_path, sql_system("crm", "DSAR_TEST_CRM_URL"))
    monkeypatch.setenv("DSAR_TEST_CRM_URL", sqlite_database(tmp_path / "crm.db"))
    monkeypatch.setattr(collect.SEARCHES, "enqueue", lambda pk: None)  # run below, by hand
    with time_machine.travel(T0, tick=False):
        case = submit(cast.a)
    (search,) = case.searches.all()
    then = T0 + dt.timedelta(hours=2)

    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        collect.run(search.pk, now=then)

    search.refresh_from_db()
    assert search.status == SearchStatus.DONE
    assert search.counts == FOUND
    assert search.finished_at == then
    searched = CaseEvent.objects.get(case=case, action="system_searched")
    assert searched.at == then


def test_a_failed_try_with_a_set_back_clock_is_retried_on_its_schedule(
    cast, submit, tmp_path: Path, monkeypatch
):
    load(tmp_path, sql_system("crm", "DSAR_TEST_CRM_URL"))
    monkeypatch.setenv("DSAR_TEST_CRM_URL", unreachable())
    monkeypatch.setattr(collect.SEARCHES, "enqueue", lambda pk: None)
    with time_machine.travel(T0, tick=False):
        case = submit(cast.a)
    (search,) = case.searches.all()
    then = T0 + dt.timedelta(minutes=5)

    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        collect.run(search.pk, now=then)
        # Due by the set-back clock, not yet by the wall clock's: the sweep finds it by `now`.
        assert collect.sweep(now=then) == 0

    search.refresh_from_db()
    assert (search.status, search.attempts) == (SearchStatus.PENDING, 1)
    assert search.next_attempt_at == then + dt.timedelta(seconds=RETRY_AFTER[0])
