"""Search: every system of the controller searched for one case's subject.

An SQL system is searched by the subject's confirmed address and, where an earlier erasure of
the same subject kept rows under a ground while emptying what linked them to the subject, by
the keys that erasure recorded (``kept_records``), until their retention ends.

Once identity is settled on an access or portability request, ``start`` creates one
``Search`` a system, in the transaction of the step that settled it, and the searches run as
Celery tasks after commit. A search is claimed with a lease (a worker that dies lets it go when
the lease ends; the sweep takes it up again), writes into a run folder of its own, and only a
finished run is recorded, so a retried search never adds rows twice. A failure is retried on a
schedule (7 tries over about a day); after the last, the search is failed with the reason, the
officers are told, and it holds the response back until an officer retries it, answers it by
hand or skips it with a reason. Every outcome is an event in the case's audit trail.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail
from cases.models import Case
from controllers.models import Controller, Right, SystemKind

from ..models import Change, ChangeStatus, Search, SearchStatus
from ..systems import jobs, vault
from ..systems.connectors.base import Batch, ConnectorError, Now
from ..systems.connectors.http import Answer, HttpConnector
from ..systems.connectors.sql import SqlConnector
from ..systems.jobs import identities_for
from .staging import Stage, StageReader, safe_name

log = logging.getLogger(__name__)

# The rights whose answer is a copy of the data.
DATA_RIGHTS = (Right.ACCESS, Right.PORTABILITY)


def kept_records(case: Case) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """What earlier erasures of the same subject kept while cutting its link to them, per
    (system, table): the keys of the rows (``Change.kept``), when the erasure was done,
    the ground and the date until which they are kept. The same subject: an erasure at the
    same controller by the same confirmed address (in any case). Keys are searched only until
    the declared retention ends: by then the rows should be gone, and a key may name another's
    row. A key without an end (recorded under a plan made before the loader required
    ``keep_years`` of such tables) is not searched at all, for the same reason."""
    if case.right not in DATA_RIGHTS:
        return {}
    return kept_records_of(case.controller, case.email, besides=case)


def kept_records_of(
    controller: Controller, email: str, *, besides: Case | None = None
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``kept_records`` of the subject known at ``controller`` by ``email`` (in any case),
    from the erasures of every request but ``besides``: what a later request searches by key,
    and what ``find_subject`` shows apart."""
    today = timezone.localdate()
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    changes = Change.objects.filter(
        case__controller=controller,
        case__email__iexact=email,
        plan__purpose=Right.ERASURE,
        status=ChangeStatus.DONE,
        kind=SystemKind.SQL,
    )
    if besides is not None:
        changes = changes.exclude(case=besides)
    changes = changes.select_related("plan").order_by("pk")
    for change in changes:
        planned = {t["table"]: t for t in change.entry.get("tables", ())}
        for table, keys in (change.kept or {}).items():
            said = planned.get(table, {})
            until = dt.date.fromisoformat(said["keep_until"]) if said.get("keep_until") else None
            if not keys or until is None or until < today:
                continue
            found.setdefault((change.system_name, table), []).append(
                {
                    "keys": list(keys),
                    "erased": change.finished_at,
                    "ground": said.get("keep_ground", ""),
                    "until": until,
                }
            )
    return found


def kept_for(
    case: Case | None,
    system: str,
    records: dict[tuple[str, str], list[dict[str, Any]]] | None = None,
) -> dict[str, list[Any]]:
    """The keys a search of ``system`` looks for beside the identity (``kept_records`` of the
    case, or ``records`` read already), by table."""
    if records is None:
        assert case is not None
        records = kept_records(case)
    # Each key once, in the order first recorded (a dict keeps it, in linear time).
    return {
        table: list(dict.fromkeys(key for record in found for key in record["keys"]))
        for (name, table), found in records.items()
        if name == system
    }


def case_folder(case: Case) -> Path:
    return vault.root() / "cases" / str(case.pk)


def run_folder(search: Search) -> Path:
    return case_folder(search.case) / f"{search.pk}-{search.run_id}"


# --- Starting.


def start(case: Case, now: dt.datetime | None = None) -> list[Search]:
    """Create the searches of a case whose identity was just settled; call inside the step's
    transaction (the case's row is locked). Does nothing twice, nor for other rights."""
    if case.right not in DATA_RIGHTS or case.searches.exists():
        return []
    now = now or timezone.now()
    identities = sorted(identities_for(case))
    searches = []
    for system in case.controller.systems.order_by("position"):
        manual = system.kind == SystemKind.MANUAL
        searches.append(
            Search.objects.create(
                case=case,
                system=system,
                system_name=system.name,
                created_at=now,
                system_title=system.title,
                kind=system.kind,
                status=SearchStatus.MANUAL if manual else SearchStatus.PENDING,
                identities=identities,
                next_attempt_at=None if manual else now,
            )
        )
    if not searches:
        return []
    # Searched by the keys an earlier erasure recorded, too: said in the record (counts).
    records = kept_records(case)
    kept = {
        c.system_title: {table: len(keys) for table, keys in found.items()}
        for c in searches
        if (found := kept_for(case, c.system_name, records))
    }
    note(
        case,
        actor=Actor.system(),
        action="search_started",
        at=now,
        data={
            "systems": [c.system_title for c in searches],
            "identities": identities,
            **({"kept_keys": kept} if kept else {}),
        },
    )
    for search in searches:
        if search.status == SearchStatus.MANUAL:
            _ask_owner(case, search, now)
        else:
            SEARCHES.enqueue_on_commit(search.pk)
    return searches


def _ask_owner(case: Case, search: Search, now: dt.datetime) -> None:
    spec = jobs.spec_or_none(search)
    for address in jobs.owner_or_officers(search):
        queue_mail(
            case,
            "manual_task",
            to=address,
            at=now,
            system=search.system_title,
            instructions=spec.instructions if spec else "",
            customer_number=case.customer_number,
        )


# --- Running: the skeleton (``jobs.JobKind``) with what a search does at each kind of system.


class Searches(jobs.JobKind):
    """A search of one system: what it found is staged (``record_run``) and recorded."""

    model = Search
    task_name = "fulfilment.collect"
    sweep_name = "fulfilment.sweep_collections"
    noun = "search"
    verb = "searched"
    related = ("case__controller", "system")
    asked = "system_asked"
    failed = "system_failed"
    failed_mail = "search_failed"
    tell_owner = True
    retried = "system_retried"
    skipped = "system_skipped"
    retryable = (SearchStatus.FAILED, SearchStatus.PENDING)
    not_retryable = gettext_lazy("Only a failed or waiting search can be tried again.")

    def check(self, job: Search) -> None:
        if job.system is None:
            raise ConnectorError("the system is no longer declared in the controller's file")

    def by_sql(self, job: Search, connector: SqlConnector, now: Now) -> None:
        kept = kept_for(job.case, job.system_name)
        batches = connector.search(identities_for(job.case), kept)
        record_run(job, batches, files=connector.files(), now=now)

    def request(self, job: Search) -> dict[str, Any]:
        return {
            "kind": job.case.right,
            "callback_url": settings.SITE_URL + reverse("fulfilment_callback", args=[job.pk]),
        }

    def completed(self, job: Search, http: HttpConnector, answer: Answer, now: Now) -> None:
        batches = http.results(answer.get("results_url"), identities_for(job.case))
        record_run(job, batches, now=now)

    def officer_check(self, job: Search) -> None:
        if not job.case.is_open:
            raise ValidationError(_("The request is closed."))

    def skip_check(self, job: Search, now: dt.datetime) -> None:
        if job.settled:
            raise ValidationError(_("This search is settled already."))


SEARCHES = Searches()
# What the tasks, the pages and the callback call (``run(search_id, now=None)``).
run, sweep, enqueue = SEARCHES.run, SEARCHES.sweep, SEARCHES.enqueue
retry, skip = SEARCHES.retry, SEARCHES.skip


def record_run(
    search: Search,
    batches: Iterator[Batch],
    *,
    files: Path | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Stage what a search yields in a run folder of its own, then record the run as the
    search's result; a failure anywhere leaves no trace but the error."""
    run_id = uuid.uuid4().hex
    key = vault.new_key()
    folder = case_folder(search.case) / f"{search.pk}-{run_id}"
    stage = Stage(folder, key)
    try:
        references: list[tuple[str, Any, str, str]] = []
        for batch in batches:
            stage.add(batch)
            keys = [c.name for c in batch.table.columns]
            for column in (c for c in batch.table.columns if c.file):
                at, key_at = keys.index(column.name), keys.index(batch.table.key)
                references += [
                    (batch.table.name, row[key_at], column.name, row[at])
                    for row in batch.rows
                    if row[at]
                ]
        for table, record, column, relative in references:
            _stage_file(stage, files, table, record, column, str(relative))
        manifest = stage.close()
    except BaseException:
        stage.abort()
        raise
    finish(search.pk, run_id, key, manifest, now=now)


def _stage_file(
    stage: Stage, root: Path | None, table: str, record: Any, column: str, relative: str
) -> None:
    """A file a row names, if it is where the system keeps its files; else a warning."""
    if root is None:
        stage.warnings.append(f"{table}: files are named but the system has no files folder")
        return
    base = root.resolve()
    try:
        path = (base / relative).resolve()
    except (OSError, ValueError):  # ValueError: a NUL in the name
        stage.warnings.append(f"{table} {record}: file {safe_name(relative)} not found")
        return
    if not path.is_relative_to(base):
        stage.warnings.append(f"{table} {record}: a file outside the system's folder is not read")
        return
    try:
        # Opened without following a link swapped in since the check, and without waiting on a
        # FIFO or a device: only a regular file is read.
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        stage.warnings.append(f"{table} {record}: file {safe_name(relative)} not found")
        return
    with os.fdopen(handle, "rb") as source:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            stage.warnings.append(f"{table} {record}: {safe_name(relative)} is not a file")
            return
        os.set_blocking(handle, True)
        stage.add_file(table, record, column, source, path.name)


def finish(
    search_id: int,
    run_id: str,
    key: bytes,
    manifest: dict[str, Any],
    *,
    record: bool = True,
    now: dt.datetime | None = None,
) -> None:
    """Record a finished run as the search's result (``record``: as its own event)."""
    now = now or timezone.now()
    with transaction.atomic():
        search = (
            Search.objects.select_for_update(of=("self",))
            .select_related("case")
            .filter(pk=search_id)
            .first()
        )
        folder = case_folder(search.case) if search else None
        if search is None or search.status in (
            SearchStatus.DONE,
            SearchStatus.SKIPPED,
        ):
            # Skipped (or finished by another worker) meanwhile: this run is not needed.
            if folder is not None:
                shutil.rmtree(folder / f"{search_id}-{run_id}", ignore_errors=True)
            return
        old = search.run_id
        counts = {name: table["rows"] for name, table in manifest["tables"].items()}
        for export in manifest["exports"]:
            counts[f"file:{export['name']}"] = 1
        search.status = SearchStatus.DONE
        search.run_id = run_id
        search.wrapped_key = vault.wrap(key)
        search.counts = counts
        search.file_count = len(manifest["files"])
        search.warnings = manifest["warnings"]
        search.error = ""
        search.finished_at = now
        search.lease_until = search.next_attempt_at = None
        search.save()
        if old and old != run_id:
            stale = folder / f"{search.pk}-{old}"
            transaction.on_commit(lambda: shutil.rmtree(stale, ignore_errors=True))
        if not record:
            return
        note(
            search.case,
            actor=Actor.system(),
            action="system_searched",
            at=now,
            data={
                "system": search.system_title,
                "rows": counts,
                "files": search.file_count,
                **({"warnings": search.warnings} if search.warnings else {}),
            },
        )


# --- What officers do (trying again and skipping: ``Searches``).


def answer_manually(
    search: Search,
    *,
    actor: Actor,
    found: bool,
    note_text: str = "",
    file_name: str = "",
    chunks: Iterator[bytes] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """The answer to a manual search (or to a failed one, searched by hand): nothing found, or
    an export file, with who and when (``now``: when the officer recorded it)."""
    search = SEARCHES.for_officer(search, actor)
    if search.settled:
        raise ValidationError(_("This search is settled already."))
    if found and chunks is None:
        raise ValidationError(_("Add the export file of what was found."))
    run_id, key = uuid.uuid4().hex, vault.new_key()
    stage = Stage(case_folder(search.case) / f"{search.pk}-{run_id}", key)
    try:
        export = stage.add_export(file_name or "export", chunks) if found and chunks else None
        manifest = stage.close()
    except BaseException:
        stage.abort()
        raise
    now = now or timezone.now()
    with transaction.atomic():
        Search.objects.filter(pk=search.pk).update(
            answered_by=actor.user, answered_at=now, answer_note=note_text
        )
        finish(search.pk, run_id, key, manifest, record=False, now=now)
        note(
            search.case,
            actor=actor,
            action="manual_answered",
            at=now,
            data={
                "system": search.system_title,
                "found": bool(export),
                **({"file": export["name"], "size": export["size"]} if export else {}),
                **({"note": note_text} if note_text else {}),
            },
        )


def reader(search: Search) -> StageReader | None:
    """The finished run of a search, to read back; None before one finished."""
    if search.status != SearchStatus.DONE or not search.run_id:
        return None
    return StageReader(run_folder(search), vault.unwrap(search.wrapped_key))


def discard_staging(case: Case) -> None:
    """Delete what the searches copied, once the case no longer needs it (after commit)."""
    folder = case_folder(case)
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
