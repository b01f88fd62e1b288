"""The record tells the truth about a processor (issue 20): once the demo's stub processor has
finished a request, the search's or the change's row says "completed" (not the "pending" it
said while waiting), and the officer's panel and the case report say what the processor last
said; a request it ended otherwise is not waited for (a change of it can be skipped), and a
search that did not finish is not said to have found nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from django.urls import reverse
from django.utils import timezone, translation

from cases.actors import Actor
from cases.workflow import perform
from fulfilment.changes import execute, plans
from fulfilment.models import Change, ChangeStatus, Search, SearchStatus
from fulfilment.report import sections
from fulfilment.searches import collect

from .demo_world import drive_to_work, officer_client, poll_until_settled, settle
from .procs import until


def _report(case) -> dict[str, list[str]]:
    with translation.override("en"):  # a page fetched before leaves its own language active
        return dict(sections(case))


def _panel(officer, case) -> str:
    return (
        officer_client(officer)
        .get(reverse("admin:dsar_case_change", args=[case.pk]))
        .content.decode()
    )


def _finished_at_processor(world, request_id: str) -> Path:
    """Wait until the stub processor has finished the request; its requests' file."""
    requests = world["folder"] / "processor-requests.sqlite3"

    def processed() -> bool:
        with sqlite3.connect(requests) as db:
            found = db.execute("SELECT status FROM requests WHERE id = ?", (request_id,)).fetchone()
        return found == ("completed",)

    until(processed, "the processor to finish the request")
    return requests


def test_a_search_the_processor_finished_says_completed_in_the_row_panel_and_report(
    world, committed
):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smartlockr"], officer)
    remote = case.searches.get(kind="http")
    assert (remote.status, remote.remote_status) == (SearchStatus.REMOTE, "pending")
    settle(committed, case, officer)
    remote.refresh_from_db()
    assert remote.status == SearchStatus.DONE
    assert remote.remote_status == "completed"
    assert "The processor reports: completed" in _panel(officer, case)
    progress = officer_client(officer).get(reverse("fulfilment_progress", args=[case.pk]))
    (entry,) = [c for c in progress.json()["searches"] if c["id"] == remote.pk]
    assert entry["remote"] == "The processor reports: completed"
    (line,) = [x for x in _report(case)["Systems searched"] if x.startswith(remote.system_title)]
    assert "The processor reports: completed" in line and "pending" not in line


def test_a_processor_that_cancels_is_said_to_have_cancelled_and_nobody_waits_for_it(
    world, committed
):
    """The processor ends the request otherwise than completed: the row keeps its word
    ("cancelled"), the search is a failed try waiting to run again (not "waiting for the
    processor"), and the report says neither "pending" nor that nothing was found."""
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smartlockr"], officer)
    remote = case.searches.get(kind="http")
    requests = _finished_at_processor(world, remote.remote_id)
    with sqlite3.connect(requests) as db:
        db.execute("UPDATE requests SET status = 'cancelled' WHERE id = ?", (remote.remote_id,))
    Search.objects.filter(pk=remote.pk).update(next_attempt_at=timezone.now())
    committed(collect.run, remote.pk)
    remote.refresh_from_db()
    assert remote.remote_status == "cancelled"
    assert remote.status == SearchStatus.PENDING  # its next try, not the processor's work
    assert "cancelled" in remote.error
    (line,) = [x for x in _report(case)["Systems searched"] if x.startswith(remote.system_title)]
    assert "The processor reports: cancelled" in line
    assert "nothing found" not in line and "pending" not in line


def _erasure_at_smartlockr(world, committed):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smartlockr"], officer, "erasure")
    plan = plans.current(case)
    committed(perform, case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)
    return case, case.changes.get(kind="http")


def test_a_change_the_processor_finished_says_completed(world, committed):
    """An erasure at smartlockr: once its processor reported the request completed, the
    change's row says so, not the "pending" it said while waiting."""
    case, remote = _erasure_at_smartlockr(world, committed)
    assert (remote.status, remote.remote_status) == (ChangeStatus.REMOTE, "pending")
    poll_until_settled(committed, remote)
    remote.refresh_from_db()
    assert remote.status == ChangeStatus.DONE, remote.error
    assert remote.remote_status == "completed"
    (plan_lines,) = [v for k, v in _report(case).items() if k.startswith("Plan of changes")]
    line = [x for x in plan_lines if x.startswith(remote.system_title + ":")][-1]
    assert "completed" in line and "pending" not in line
    assert "The processor reports: pending" not in _panel(world["officer"], case)


def test_a_change_the_processor_cancelled_is_not_waiting_for_it_and_can_be_skipped(
    world, committed
):
    """The processor ends a change otherwise than completed: the row keeps its word, the
    change waits for its own next try (not "for the processor", which would keep the officer
    from skipping it as "running in the system now"), and the officer can skip it."""
    case, remote = _erasure_at_smartlockr(world, committed)
    requests = _finished_at_processor(world, remote.remote_id)
    with sqlite3.connect(requests) as db:
        db.execute("UPDATE requests SET status = 'cancelled' WHERE id = ?", (remote.remote_id,))
    Change.objects.filter(pk=remote.pk).update(next_attempt_at=timezone.now())
    committed(execute.run, remote.pk)
    remote.refresh_from_db()
    assert remote.remote_status == "cancelled"
    assert remote.status == ChangeStatus.PENDING and "cancelled" in remote.error
    (plan_lines,) = [v for k, v in _report(case).items() if k.startswith("Plan of changes")]
    line = [x for x in plan_lines if x.startswith(remote.system_title + ":")][-1]
    assert "The processor reports: cancelled" in line
    assert "The processor reports: cancelled" in _panel(world["officer"], case)
    committed(
        execute.skip,
        remote,
        actor=Actor.officer(world["officer"]),
        reason="The processor cancelled it; handled by phone.",
    )
    remote.refresh_from_db()
    assert remote.status == ChangeStatus.SKIPPED
