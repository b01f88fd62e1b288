"""What a search of a system and a change to a system share: a row that a worker claims with a
lease, keeps alive with a heartbeat, and retries on a schedule until it gives up.

Both ``Collection`` and ``Execution`` have the fields this needs (status, attempts,
next_attempt_at, lease_until, remote_id); their modules say what a try does.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Model, Q
from django.utils import timezone

from cases.audit import note
from cases.models import Case

log = logging.getLogger(__name__)

# Seconds to wait after each failed try: 7 tries over about 24.6 hours (at least a day).
RETRY_AFTER = (60, 300, 1800, 7200, 21600, 57600)
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
# The states in which a job is run by a worker (a manual one waits for a person).
RUNNABLE = ("pending", "remote", "running")
# What a processor says of a request it is still working on (OpenDSR); "" while it has not
# answered since it was asked (it may have the request: it is treated as working).
WORKING = ("", "pending", "in_progress")
# How often a processor is asked whether it has finished (its callback may come first).
POLL_EVERY = dt.timedelta(minutes=5)


def identities_for(case: Case) -> dict[str, str]:
    """What a search looks for: the address the subject confirmed. A customer number or phone
    number typed into the form is not proof (anyone can type another's), so it is shown to the
    officer and searched by only through ``find_subject``."""
    return {"email": case.email}


def waiting_status(job: Any) -> str:
    """The status of a job between tries: "remote" (waiting for the processor) while a
    processor has the request and is working on it, else "pending" (waiting to run): once it
    reported the request completed (only its results are left to read) or ended otherwise, the
    job waits for nobody but its own next try."""
    return "remote" if job.remote_id and job.remote_status in WORKING else "pending"


def reported(job: Any, status: str) -> None:
    """Keep what the processor said of the request, as it said it: the row always says the
    processor's last word (its "completed" too, not the "pending" it said while waiting)."""
    job.remote_status = status[:30]
    type(job).objects.filter(pk=job.pk).update(remote_status=job.remote_status)


def lease() -> dt.timedelta:
    """How long a job is held by its worker without a heartbeat (see ``heartbeat``)."""
    return dt.timedelta(seconds=settings.FULFILMENT_LEASE_SECONDS)


def claim(
    model: type[Model],
    pk: int,
    *,
    gave_up: Callable[[int, str], None],
    related: tuple[str, ...] = (),
    now: dt.datetime | None = None,
) -> Any:
    """Take a due job for this worker (a lease), or None if it is not due, settled, or held by
    another worker whose lease still runs. A job whose every try ended without a word (its
    worker was killed: out of memory, say) is given up through ``gave_up`` instead of killing
    workers forever."""
    now = now or timezone.now()
    with transaction.atomic():
        job = (
            model.objects.select_for_update(of=("self",))
            .select_related(*related)
            .filter(pk=pk)
            .first()
        )
        if job is None or job.status not in RUNNABLE:
            return None
        if job.lease_until and job.lease_until > now:
            return None
        if job.next_attempt_at and job.next_attempt_at > now:
            return None
        exhausted = job.attempts >= MAX_ATTEMPTS
        if not exhausted:
            if job.status != "remote":
                job.status = "running"
            job.attempts += 1
            job.lease_until = now + lease()
            job.save(update_fields=["status", "attempts", "lease_until"])
    if exhausted:
        gave_up(pk, f"cut off {job.attempts} times: its worker died")
        return None
    return job


def retry_later(job: Any, error: str, now: dt.datetime) -> bool:
    """Record a failed try on the (locked) job: True if it will be tried again, False if that
    was the last try (the caller fails it for good)."""
    job.error = error[:2000]
    job.lease_until = None
    if job.attempts < MAX_ATTEMPTS:
        job.status = waiting_status(job)
        job.next_attempt_at = now + dt.timedelta(seconds=RETRY_AFTER[max(job.attempts, 1) - 1])
        job.save()
        return True
    job.status = "failed"
    job.next_attempt_at = None
    job.save()
    return False


def due(model: type[Model], now: dt.datetime, limit: int = 500) -> list[int]:
    """The jobs a sweep publishes: a retry, a poll, or one whose worker died."""
    found = model.objects.filter(status__in=RUNNABLE).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    found = found.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    return list(found.values_list("pk", flat=True)[:limit])


@contextmanager
def heartbeat(job: Model) -> Iterator[None]:
    """Renew the job's lease from a thread while this worker runs it. Renewing between steps
    would not do: one slow statement (up to the system's timeout, which may exceed the lease)
    would let the sweep start a second run beside a live one. A killed worker's heartbeat dies
    with it, and the sweep takes the job up once the lease has run out."""
    stop = threading.Event()
    every = max(lease().total_seconds() / 3, 0.2)

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    renew(job)
                except DatabaseError:
                    log.warning("could not renew the lease of %s", job)
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=beat, name=f"lease-{job.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def restart(
    job: Any,
    *,
    actor: Any,
    action: str,
    enqueue: Callable[[int], None],
    now: dt.datetime | None = None,
) -> None:
    """An officer's "try again": a fresh count of tries, due now, recorded as ``action``."""
    now = now or timezone.now()
    with transaction.atomic():
        type(job).objects.filter(pk=job.pk).update(
            status=waiting_status(job),
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
        )
        note(job.case, actor=actor, action=action, at=now, data={"system": job.system_title})
        transaction.on_commit(lambda: enqueue(job.pk))


def skip(job: Any, *, actor: Any, reason: str, action: str, now: dt.datetime | None = None) -> None:
    """An officer's "go ahead without this system", with the reason, recorded as ``action``
    (the caller's transaction; it settles what depends on the job)."""
    now = now or timezone.now()
    type(job).objects.filter(pk=job.pk).exclude(status__in=("done", "skipped")).update(
        status="skipped",
        answered_by=actor.user,
        answered_at=now,
        answer_note=reason,
        next_attempt_at=None,
        lease_until=None,
    )
    note(
        job.case,
        actor=actor,
        action=action,
        at=now,
        data={"system": job.system_title, "reason": reason},
    )


def renew(job: Model) -> None:
    """Keep the lease of a long job."""
    type(job).objects.filter(pk=job.pk).update(lease_until=timezone.now() + lease())
