"""What a search of a system and a change to a system share: one job skeleton.

A job is a row (``Search``, ``Change``: the fields of ``fulfilment.models.Job``) that a
Celery task runs: a worker claims it with a lease, keeps the lease alive with a heartbeat, hands
it to its system's connector (``connectors.CONNECTORS``, one class a kind), which calls the
job's action for that kind (``by_sql``, ``by_http``); a failed try is retried on a schedule until
it gives up, and the officers are told. A sweep publishes what is due; an officer may try a
failed job again or go ahead without its system.

``JobKind`` holds all of that once; a room subclasses it with its model, its words and what is
its own: what a search does with the rows it found, what a change applies and verifies.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connections, transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail
from cases.models import Case
from controllers.access import is_officer, reminder_addresses
from controllers.systems import SystemSpec, spec_of

from .connectors import connector_for
from .connectors.base import ConnectorError, Now
from .connectors.http import Answer, HttpConnector
from .connectors.sql import SqlConnector

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
    now: Now = None,
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


def renew(job: Model) -> None:
    """Keep the lease of a long job (a lease is the worker's real time, whatever clock the
    job's record is dated by)."""
    type(job).objects.filter(pk=job.pk).update(lease_until=timezone.now() + lease())


def spec_or_none(job: Any) -> SystemSpec | None:
    """The declaration of the job's system (None: it was removed from the systems file)."""
    return spec_of(job.system.spec) if job.system else None


def owner_or_officers(job: Any) -> list[str]:
    """Who is mailed a manual system's task: its owner, else the case's officers."""
    spec = spec_or_none(job)
    if spec and spec.owner:
        return [spec.owner]
    return reminder_addresses(job.case.controller, assignee=job.case.assigned_to)


class Final(ConnectorError):
    """A try that cannot succeed by trying again: the job fails for good at once."""


class JobKind(ABC):
    """One kind of job (a search, a change): a room subclasses it, declares the attributes
    below and what is its own: ``by_sql``, ``request`` and ``completed`` (for ``by_http``),
    and its checks (``check``, ``officer_check``, ``skip_check``). Creating the one instance
    registers its two Celery tasks under their names (``task_name``, ``sweep_name``): queued
    tasks survive a deploy.

    Every entry point takes ``now``: None is the wall clock, read where each thing is recorded
    (a long search's finish is dated when it finished); a set-back clock passes its time down."""

    model: type[Model]
    task_name: str
    sweep_name: str
    noun: str  # "search": "the search was cut off ..."
    verb: str  # "searched": "a manual system is not searched automatically"
    related: tuple[str, ...]  # read with the job by a try
    asked: str  # the event: a processor was asked
    failed: str  # the event: failed for good
    failed_mail: str  # the mail to the officers then
    tell_owner: bool  # ... and to the system's owner
    retried: str  # the event: an officer tried again
    skipped: str  # the event: an officer went ahead without the system
    retryable: tuple[str, ...]  # the states an officer may try again
    not_retryable: Promise  # what an officer is told in any other

    def __init__(self) -> None:
        @shared_task(name=self.task_name, acks_late=True, reject_on_worker_lost=True)
        def job_task(job_id: int) -> None:
            self.run(job_id)

        @shared_task(name=self.sweep_name)
        def sweep_task() -> int:
            return self.sweep()

        self.task, self.sweep_task = job_task, sweep_task

    # --- Publishing.

    def enqueue(self, job_id: int) -> None:
        """Publish the job; if the broker is down, the sweep publishes it later."""
        try:
            self.task.delay(job_id)
        except Exception:
            log.warning("broker unavailable; %s %s waits for the sweep", self.noun, job_id)

    def enqueue_on_commit(self, job_id: int) -> None:
        """Publish the job once the transaction that made it due commits."""
        transaction.on_commit(lambda: self.enqueue(job_id))

    def sweep(self, now: Now = None) -> int:
        """Publish every job that is due: a retry, a poll of a processor, or one whose worker
        died (its lease ran out). Returns how many."""
        ids = due(self.model, now or timezone.now())
        for job_id in ids:
            self.enqueue(job_id)
        return len(ids)

    # --- Running.

    def claim(self, job_id: int, now: Now = None) -> Any:
        """Take a due job for this worker (``claim``)."""
        return claim(
            self.model,
            job_id,
            gave_up=lambda pk, why: self.fail(pk, f"the {self.noun} was {why}", now=now),
            related=self.related,
            now=now,
        )

    def run(self, job_id: int, now: Now = None) -> None:
        """One try of one job (the Celery task's body): at its system, by its kind."""
        job = self.claim(job_id, now)
        if job is None:
            return
        try:
            self.check(job)
            connector = connector_for(job.kind, spec_of(job.system.spec))
            if connector is None:
                raise Final(f"a {job.kind} system is not {self.verb} automatically")
            with heartbeat(job):
                connector.serve(self, job, now)
        except Final as error:
            self.fail(job.pk, str(error), final=True, now=now)
        except ConnectorError as error:
            self.fail(job.pk, str(error), now=now)
        except Exception as error:  # a fault of ours: recorded like the system's, never lost
            log.exception("%s %s failed", self.noun, job.pk)
            self.fail(job.pk, f"{type(error).__name__}: {error}", now=now)

    @abstractmethod
    def check(self, job: Any) -> None:
        """Raise if the job cannot run now (its system gone, say); ``Final`` if it never can."""

    @abstractmethod
    def by_sql(self, job: Any, connector: SqlConnector, now: Now) -> None:
        """One try at an SQL system: what the room does there."""

    def by_http(self, job: Any, connector: HttpConnector, now: Now) -> None:
        """One exchange with a processor: ask it (once), then ask whether it has finished, then
        take its answer (``completed``). Between exchanges the job waits, without a lease."""
        at = now or timezone.now()
        if not job.remote_id:
            # Named before it is sent: a retry after a lost answer asks for the same request.
            job.remote_id = str(uuid.uuid4())
            self.model.objects.filter(pk=job.pk).update(remote_id=job.remote_id)
        if not job.remote_status:
            answer = connector.submit(
                request_id=job.remote_id, identities=identities_for(job.case), **self.request(job)
            )
            self._wait(job, str(answer.get("request_status") or "pending"), at)
            note(
                job.case,
                actor=Actor.system(),
                action=self.asked,
                at=at,
                data={"system": job.system_title, "request": job.remote_id},
            )
            return
        answer = connector.status(job.remote_id)
        status = str(answer.get("request_status") or "")
        if status in ("pending", "in_progress"):
            self._wait(job, status, at)
            return
        # Said as the processor said it, before anything else can fail: the row does not go on
        # saying "pending" of a request the processor has finished (or cancelled).
        reported(job, status)
        if status != "completed":
            raise ConnectorError(f"the processor reports the request as {status[:30]!r}")
        self.completed(job, connector, answer, now)

    @abstractmethod
    def request(self, job: Any) -> dict[str, Any]:
        """What the processor is asked, beside the request's name and the identities:
        ``kind`` and ``callback_url`` (and ``corrections``: ``HttpConnector.submit``)."""

    @abstractmethod
    def completed(self, job: Any, http: HttpConnector, answer: Answer, now: Now) -> None:
        """The processor reports the request completed (``answer``): finish the job."""

    def _wait(self, job: Any, status: str, now: dt.datetime) -> None:
        self.model.objects.filter(pk=job.pk).update(
            status="remote",
            remote_status=status[:30],
            attempts=0,  # it answered: the count of failed tries starts again
            next_attempt_at=now + POLL_EVERY,
            lease_until=None,
            error="",
        )

    def fail(self, job_id: int, error: str, *, final: bool = False, now: Now = None) -> None:
        """Record a failed try: retried on the schedule, or (the last, or ``final``) failed for
        good, the officers told (and the system's owner, where ``tell_owner``)."""
        now = now or timezone.now()
        with transaction.atomic():
            job = (
                self.model.objects.select_for_update(of=("self",))
                .select_related(*self.related, "case__assigned_to")
                .filter(pk=job_id)
                .first()
            )
            if job is None or job.settled:
                return
            tries = job.attempts  # as many as were made (a final failure ends the count early)
            if final:
                job.attempts = MAX_ATTEMPTS
            if retry_later(job, error, now):
                return
            case = job.case
            note(
                case,
                actor=Actor.system(),
                action=self.failed,
                at=now,
                data={"system": job.system_title, "error": job.error, "attempts": tries},
            )
            # The officers decide what to do with the case; the system's owner can mend it.
            addresses = reminder_addresses(case.controller, assignee=case.assigned_to)
            spec = spec_or_none(job) if self.tell_owner else None
            if spec and spec.owner and spec.owner.lower() not in {a.lower() for a in addresses}:
                addresses = [*addresses, spec.owner]
            for address in addresses:
                queue_mail(
                    case,
                    self.failed_mail,
                    to=address,
                    at=now,
                    system=job.system_title,
                    error=job.error,
                )

    # --- What officers do.

    def for_officer(self, job: Any, actor: Actor) -> Any:
        """The job, locked (until the caller's transaction ends, if it is in one), if this
        officer may act on it (``officer_check``)."""
        with transaction.atomic():
            locked = (
                self.model.objects.select_for_update(of=("self",))
                .select_related(*self.related)
                .get(pk=job.pk)
            )
        if actor.kind != "officer" or not is_officer(actor.user, locked.case.controller):
            raise PermissionDenied("only the controller's officers may do this")
        self.officer_check(locked)
        return locked

    @abstractmethod
    def officer_check(self, job: Any) -> None:
        """Raise ValidationError if no officer may act on the job now."""

    def retry(self, job: Any, *, actor: Actor, now: Now = None) -> None:
        """An officer's "try again": a fresh count of tries, due now."""
        now = now or timezone.now()
        with transaction.atomic():
            job = self.for_officer(job, actor)
            if job.status not in self.retryable:
                raise ValidationError(self.not_retryable)
            self.model.objects.filter(pk=job.pk).update(
                status=waiting_status(job),
                attempts=0,
                next_attempt_at=now,
                lease_until=None,
            )
            note(
                job.case,
                actor=actor,
                action=self.retried,
                at=now,
                data={"system": job.system_title},
            )
            self.enqueue_on_commit(job.pk)

    def skip(self, job: Any, *, actor: Actor, reason: str, now: Now = None) -> None:
        """An officer's "go ahead without this system"; the reason goes into the record."""
        now = now or timezone.now()
        with transaction.atomic():
            job = self.for_officer(job, actor)
            if not reason.strip():
                raise ValidationError(_("Say why the system is skipped."))
            self.skip_check(job, now)
            self.model.objects.filter(pk=job.pk).exclude(status__in=("done", "skipped")).update(
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
                action=self.skipped,
                at=now,
                data={"system": job.system_title, "reason": reason},
            )

    @abstractmethod
    def skip_check(self, job: Any, now: dt.datetime) -> None:
        """Raise ValidationError if the job cannot be skipped now."""
