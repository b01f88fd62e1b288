"""Collection: every system of the controller searched for one case's subject.

An SQL system is searched by the subject's confirmed address and, where an earlier erasure of
the same subject kept rows under a ground while emptying what linked them to the subject, by
the keys that erasure recorded (``kept_records``), until their retention ends.

Once identity is settled on an access or portability request, ``start`` creates one
``Collection`` a system, in the transaction of the step that settled it, and the searches run as
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

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail
from cases.models import Case
from controllers.access import is_officer, reminder_addresses
from controllers.models import Controller, Right, SystemKind
from controllers.systems import SystemSpec, spec_of

from ..models import Collection, CollectionStatus, Execution, ExecutionStatus
from ..systems import jobs, vault
from ..systems.connectors.base import Batch, ConnectorError, files_root
from ..systems.connectors.http import HttpSource
from ..systems.connectors.sql import SqlSource
from ..systems.jobs import POLL_EVERY, identities_for
from .staging import Stage, StageReader, safe_name

log = logging.getLogger(__name__)

# The rights whose answer is a copy of the data.
DATA_RIGHTS = (Right.ACCESS, Right.PORTABILITY)


def kept_records(case: Case) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """What earlier erasures of the same subject kept while cutting its link to them, per
    (system, table): the keys of the rows (``Execution.kept``), when the erasure was done,
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
    executions = Execution.objects.filter(
        case__controller=controller,
        case__email__iexact=email,
        plan__purpose=Right.ERASURE,
        status=ExecutionStatus.DONE,
        kind=SystemKind.SQL,
    )
    if besides is not None:
        executions = executions.exclude(case=besides)
    executions = executions.select_related("plan").order_by("pk")
    for execution in executions:
        planned = {t["table"]: t for t in execution.entry.get("tables", ())}
        for table, keys in (execution.kept or {}).items():
            said = planned.get(table, {})
            until = dt.date.fromisoformat(said["keep_until"]) if said.get("keep_until") else None
            if not keys or until is None or until < today:
                continue
            found.setdefault((execution.system_name, table), []).append(
                {
                    "keys": list(keys),
                    "erased": execution.finished_at,
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


def run_folder(collection: Collection) -> Path:
    return case_folder(collection.case) / f"{collection.pk}-{collection.run_id}"


# --- Starting.


def start(case: Case, now: dt.datetime | None = None) -> list[Collection]:
    """Create the searches of a case whose identity was just settled; call inside the step's
    transaction (the case's row is locked). Does nothing twice, nor for other rights."""
    if case.right not in DATA_RIGHTS or case.collections.exists():
        return []
    now = now or timezone.now()
    identities = sorted(identities_for(case))
    collections = []
    for system in case.controller.systems.order_by("position"):
        manual = system.kind == SystemKind.MANUAL
        collections.append(
            Collection.objects.create(
                case=case,
                system=system,
                system_name=system.name,
                created_at=now,
                system_title=system.title,
                kind=system.kind,
                status=CollectionStatus.MANUAL if manual else CollectionStatus.PENDING,
                identities=identities,
                next_attempt_at=None if manual else now,
            )
        )
    if not collections:
        return []
    # Searched by the keys an earlier erasure recorded, too: said in the record (counts).
    records = kept_records(case)
    kept = {
        c.system_title: {table: len(keys) for table, keys in found.items()}
        for c in collections
        if (found := kept_for(case, c.system_name, records))
    }
    note(
        case,
        actor=Actor.system(),
        action="collection_started",
        at=now,
        data={
            "systems": [c.system_title for c in collections],
            "identities": identities,
            **({"kept_keys": kept} if kept else {}),
        },
    )
    for collection in collections:
        if collection.status == CollectionStatus.MANUAL:
            _ask_owner(case, collection, now)
        else:
            transaction.on_commit(lambda pk=collection.pk: enqueue(pk))
    return collections


def _ask_owner(case: Case, collection: Collection, now: dt.datetime) -> None:
    spec = spec_of(collection.system.spec) if collection.system else None
    owner = spec.owner if spec else ""
    addresses = [owner] if owner else reminder_addresses(case.controller, assignee=case.assigned_to)
    for address in addresses:
        queue_mail(
            case,
            "manual_task",
            to=address,
            at=now,
            system=collection.system_title,
            instructions=spec.instructions if spec else "",
            customer_number=case.customer_number,
        )


def enqueue(collection_id: int) -> None:
    """Publish the search; if the broker is down, the sweep publishes it later."""
    try:
        collect_task.delay(collection_id)
    except Exception:
        log.warning("broker unavailable; collection %s waits for the sweep", collection_id)


# --- Running.


def claim(collection_id: int, now: dt.datetime | None = None) -> Collection | None:
    """Take a due search for this worker (``jobs.claim``)."""
    return jobs.claim(
        Collection,
        collection_id,
        gave_up=lambda pk, why: fail(pk, f"the search was {why}", now=now),
        related=("case__controller", "system"),
        now=now,
    )


def run(collection_id: int, now: dt.datetime | None = None) -> None:
    """One try of one search (the Celery task's body). ``now``: the moment of the try, by
    which everything it records is dated (a demo history runs it with the clock set back)."""
    now = now or timezone.now()
    collection = claim(collection_id, now)
    if collection is None:
        return
    try:
        if collection.system is None:
            raise ConnectorError("the system is no longer declared in the controller's file")
        spec = spec_of(collection.system.spec)
        with jobs.heartbeat(collection):
            if collection.kind == SystemKind.SQL:
                _run_sql(collection, spec, now)
            elif collection.kind == SystemKind.HTTP:
                _run_http(collection, spec, now)
            else:
                raise ConnectorError(f"a {collection.kind} system is not searched automatically")
    except ConnectorError as error:
        fail(collection.pk, str(error), now=now)
    except Exception as error:  # a fault of ours: recorded like the system's, never lost
        log.exception("collection %s failed", collection.pk)
        fail(collection.pk, f"{type(error).__name__}: {error}", now=now)


def _run_sql(collection: Collection, spec: SystemSpec, now: dt.datetime) -> None:
    kept = kept_for(collection.case, collection.system_name)
    batches = SqlSource(spec, kept=kept).search(identities_for(collection.case))
    record_run(collection, batches, files=files_root(spec), now=now)


def _run_http(collection: Collection, spec: SystemSpec, now: dt.datetime) -> None:
    """One exchange with a processor: ask it (once), then ask whether it has finished, then
    read its results. Between exchanges the collection waits, without a lease."""
    case = collection.case
    identities = identities_for(case)
    source = HttpSource(spec)
    if not collection.remote_id:
        # Named before it is sent: a retry after a lost answer asks for the same request.
        collection.remote_id = str(uuid.uuid4())
        Collection.objects.filter(pk=collection.pk).update(remote_id=collection.remote_id)
    if not collection.remote_status:
        answer = source.submit(
            request_id=collection.remote_id,
            kind=case.right,
            identities=identities,
            callback_url=settings.SITE_URL + reverse("fulfilment_callback", args=[collection.pk]),
        )
        _wait_for_processor(collection, str(answer.get("request_status") or "pending"), now)
        note(
            case,
            actor=Actor.system(),
            action="system_asked",
            at=now,
            data={"system": collection.system_title, "request": collection.remote_id},
        )
        return
    answer = source.status(collection.remote_id)
    status = str(answer.get("request_status") or "")
    if status in ("pending", "in_progress"):
        _wait_for_processor(collection, status, now)
        return
    # Said as the processor said it, before anything else can fail: the row does not go on
    # saying "pending" of a request the processor has finished (or cancelled).
    jobs.reported(collection, status)
    if status != "completed":
        raise ConnectorError(f"the processor reports the request as {status[:30]!r}")
    record_run(collection, source.results(answer.get("results_url"), identities), now=now)


def _wait_for_processor(collection: Collection, status: str, now: dt.datetime) -> None:
    Collection.objects.filter(pk=collection.pk).update(
        status=CollectionStatus.REMOTE,
        remote_status=status[:30],
        attempts=0,  # it answered: the count of failed tries starts again
        next_attempt_at=now + POLL_EVERY,
        lease_until=None,
        error="",
    )


def record_run(
    collection: Collection,
    batches: Iterator[Batch],
    *,
    files: Path | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Stage what a search yields in a run folder of its own, then record the run as the
    collection's result; a failure anywhere leaves no trace but the error."""
    run_id = uuid.uuid4().hex
    key = vault.new_key()
    folder = case_folder(collection.case) / f"{collection.pk}-{run_id}"
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
    finish(collection.pk, run_id, key, manifest, now=now)


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
    collection_id: int,
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
        collection = (
            Collection.objects.select_for_update(of=("self",))
            .select_related("case")
            .filter(pk=collection_id)
            .first()
        )
        folder = case_folder(collection.case) if collection else None
        if collection is None or collection.status in (
            CollectionStatus.DONE,
            CollectionStatus.SKIPPED,
        ):
            # Skipped (or finished by another worker) meanwhile: this run is not needed.
            if folder is not None:
                shutil.rmtree(folder / f"{collection_id}-{run_id}", ignore_errors=True)
            return
        old = collection.run_id
        counts = {name: table["rows"] for name, table in manifest["tables"].items()}
        for export in manifest["exports"]:
            counts[f"file:{export['name']}"] = 1
        collection.status = CollectionStatus.DONE
        collection.run_id = run_id
        collection.wrapped_key = vault.wrap(key)
        collection.counts = counts
        collection.file_count = len(manifest["files"])
        collection.warnings = manifest["warnings"]
        collection.error = ""
        collection.finished_at = now
        collection.lease_until = collection.next_attempt_at = None
        collection.save()
        if old and old != run_id:
            stale = folder / f"{collection.pk}-{old}"
            transaction.on_commit(lambda: shutil.rmtree(stale, ignore_errors=True))
        if not record:
            return
        note(
            collection.case,
            actor=Actor.system(),
            action="system_searched",
            at=now,
            data={
                "system": collection.system_title,
                "rows": counts,
                "files": collection.file_count,
                **({"warnings": collection.warnings} if collection.warnings else {}),
            },
        )


def fail(collection_id: int, error: str, *, now: dt.datetime | None = None) -> None:
    """Record a failed try: retried on the schedule, or failed for good after the last."""
    now = now or timezone.now()
    with transaction.atomic():
        collection = (
            Collection.objects.select_for_update(of=("self",))
            .select_related("case__controller", "case__assigned_to", "system")
            .filter(pk=collection_id)
            .first()
        )
        if collection is None or collection.settled:
            return
        if jobs.retry_later(collection, error, now):
            return
        case = collection.case
        note(
            case,
            actor=Actor.system(),
            action="system_failed",
            at=now,
            data={
                "system": collection.system_title,
                "error": collection.error,
                "attempts": collection.attempts,
            },
        )
        # The officers decide what to do with the case; the system's owner can mend the system.
        addresses = reminder_addresses(case.controller, assignee=case.assigned_to)
        spec = spec_of(collection.system.spec) if collection.system else None
        if spec and spec.owner and spec.owner.lower() not in {a.lower() for a in addresses}:
            addresses = [*addresses, spec.owner]
        for address in addresses:
            queue_mail(
                case,
                "collection_failed",
                to=address,
                at=now,
                system=collection.system_title,
                error=collection.error,
            )


def sweep(now: dt.datetime | None = None) -> int:
    """Publish every search that is due: a retry, a poll of a processor, or one whose worker
    died (its lease ran out). Returns how many."""
    ids = jobs.due(Collection, now or timezone.now())
    for collection_id in ids:
        enqueue(collection_id)
    return len(ids)


# --- What officers do.


def _for_officer(collection: Collection, actor: Actor) -> Collection:
    with transaction.atomic():
        locked = (
            Collection.objects.select_for_update(of=("self",))
            .select_related("case__controller")
            .get(pk=collection.pk)
        )
    if actor.kind != "officer" or not is_officer(actor.user, locked.case.controller):
        raise PermissionDenied("only the controller's officers may do this")
    if not locked.case.is_open:
        raise ValidationError(_("The request is closed."))
    return locked


def retry(collection: Collection, *, actor: Actor, now: dt.datetime | None = None) -> None:
    """Try a failed (or waiting) search again now, with a fresh count of tries."""
    collection = _for_officer(collection, actor)
    if collection.status not in (CollectionStatus.FAILED, CollectionStatus.PENDING):
        raise ValidationError(_("Only a failed or waiting search can be tried again."))
    jobs.restart(collection, actor=actor, action="system_retried", enqueue=enqueue, now=now)


def skip(
    collection: Collection, *, actor: Actor, reason: str, now: dt.datetime | None = None
) -> None:
    """Go ahead without this system; the reason goes into the record."""
    collection = _for_officer(collection, actor)
    if not reason.strip():
        raise ValidationError(_("Say why the system is skipped."))
    if collection.settled:
        raise ValidationError(_("This search is settled already."))
    with transaction.atomic():
        jobs.skip(collection, actor=actor, reason=reason, action="system_skipped", now=now)


def answer_manually(
    collection: Collection,
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
    collection = _for_officer(collection, actor)
    if collection.settled:
        raise ValidationError(_("This search is settled already."))
    if found and chunks is None:
        raise ValidationError(_("Add the export file of what was found."))
    run_id, key = uuid.uuid4().hex, vault.new_key()
    stage = Stage(case_folder(collection.case) / f"{collection.pk}-{run_id}", key)
    try:
        export = stage.add_export(file_name or "export", chunks) if found and chunks else None
        manifest = stage.close()
    except BaseException:
        stage.abort()
        raise
    now = now or timezone.now()
    with transaction.atomic():
        Collection.objects.filter(pk=collection.pk).update(
            answered_by=actor.user, answered_at=now, answer_note=note_text
        )
        finish(collection.pk, run_id, key, manifest, record=False, now=now)
        note(
            collection.case,
            actor=actor,
            action="manual_answered",
            at=now,
            data={
                "system": collection.system_title,
                "found": bool(export),
                **({"file": export["name"], "size": export["size"]} if export else {}),
                **({"note": note_text} if note_text else {}),
            },
        )


def reader(collection: Collection) -> StageReader | None:
    """The finished run of a search, to read back; None before one finished."""
    if collection.status != CollectionStatus.DONE or not collection.run_id:
        return None
    return StageReader(run_folder(collection), vault.unwrap(collection.wrapped_key))


def discard_staging(case: Case) -> None:
    """Delete what the searches copied, once the case no longer needs it (after commit)."""
    folder = case_folder(case)
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))


# --- The tasks (beat runs the sweep every minute).


@shared_task(name="fulfilment.collect", acks_late=True, reject_on_worker_lost=True)
def collect_task(collection_id: int) -> None:
    run(collection_id)


@shared_task(name="fulfilment.sweep_collections")
def sweep_task() -> int:
    return sweep()
