"""A ZIP of the case reports of a period, for an auditor's file: built by a Celery task that
counts its progress, so a year of requests neither holds a web request open nor is lost.

The requests are those of the chosen controllers *closed* in the period (each controller's
local days). The task renders each case's report (``case_report.render``) into a ZIP under the
media folder, stored (PDFs are compressed already), and records its progress every few reports.
A task that never ran (the broker was down) or whose worker died is published again by the
sweep on beat; building starts over and writes a new file, so a half-built one is never served.
The ZIP holds personal data: only its requester downloads it, and the sweep deletes it after
``REPORT_ARCHIVE_DAYS``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cases.models import Case
from controllers.models import Controller

from .case_report import render
from .models import Archive, ArchiveStatus

log = logging.getLogger(__name__)
# A build that has not moved for this long was cut off (its worker died): it is started again.
STALE = dt.timedelta(minutes=10)


class Superseded(Exception):
    """Another build of the archive took over (or its row is gone): this one stops."""


def folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "reports"


def path_of(archive: Archive) -> Path:
    return folder() / f"archive-{archive.pk}.zip"


def closed_in(controllers: list[Controller], start: dt.date, end: dt.date) -> QuerySet[Case]:
    condition = Q()
    for controller in controllers:
        zone = ZoneInfo(controller.time_zone)
        first = dt.datetime.combine(start, dt.time(), tzinfo=zone)
        after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        condition |= Q(controller=controller, closed_at__gte=first, closed_at__lt=after)
    return (
        Case.objects.filter(condition).order_by("reference") if controllers else Case.objects.none()
    )


def request(
    user: Any, controllers: list[Controller], start: dt.date, end: dt.date, language: str
) -> Archive:
    """Ask for an archive; its task is published after commit (or by the sweep)."""
    archive = Archive.objects.create(
        requested_by=user,
        controllers=[c.pk for c in controllers],
        start=start,
        end=end,
        language=language,
    )
    transaction.on_commit(lambda: enqueue(archive.pk))
    return archive


def enqueue(archive_id: int) -> None:
    try:
        build_task.delay(archive_id)
    except Exception:
        log.warning("broker unavailable; archive %s waits for the sweep", archive_id)


def build(archive_id: int) -> None:
    with transaction.atomic():
        archive = Archive.objects.select_for_update().filter(pk=archive_id).first()
        if archive is None or archive.status in (ArchiveStatus.READY, ArchiveStatus.FAILED):
            return
        if archive.status == ArchiveStatus.BUILDING and timezone.now() - archive.updated_at < STALE:
            return  # another worker is on it
        archive.status, archive.done, archive.error = ArchiveStatus.BUILDING, 0, ""
        archive.save()
    # This build's own token: a second build (the sweep's, after this one looked cut off)
    # writes its own file, and only the build whose token is still on the row may finish.
    token = uuid.uuid4().hex
    Archive.objects.filter(pk=archive.pk).update(token=token)
    mine = Archive.objects.filter(pk=archive.pk, token=token, status=ArchiveStatus.BUILDING)
    controllers = list(Controller.objects.filter(pk__in=archive.controllers))
    cases = closed_in(controllers, archive.start, archive.end)
    mine.update(total=cases.count())
    target = path_of(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}-{token}.part")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as bundle:
            for done, case in enumerate(cases.select_related("controller").iterator(), start=1):
                bundle.writestr(f"{case.reference}.pdf", render(case, language=archive.language))
                # Every report moves the row on: a slow one is not taken for a dead worker.
                if not mine.update(done=done, updated_at=timezone.now()):
                    raise Superseded
        with transaction.atomic():
            if not mine.select_for_update().exists():
                raise Superseded
            partial.replace(target)
            mine.update(status=ArchiveStatus.READY, finished_at=timezone.now())
    except Superseded:
        partial.unlink(missing_ok=True)  # another build, or the row's deletion, took over
    except Exception as error:
        partial.unlink(missing_ok=True)
        log.exception("archive %s failed", archive.pk)
        mine.update(status=ArchiveStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000])


def sweep(now: dt.datetime | None = None) -> int:
    """Publish archives never started or cut off; delete those past their days."""
    now = now or timezone.now()
    waiting = Archive.objects.filter(
        Q(status=ArchiveStatus.PENDING, created_at__lt=now - dt.timedelta(minutes=1))
        | Q(status=ArchiveStatus.BUILDING, updated_at__lt=now - STALE)
    )
    ids = list(waiting.values_list("pk", flat=True)[:100])
    for archive_id in ids:
        enqueue(archive_id)
    keep = dt.timedelta(days=settings.REPORT_ARCHIVE_DAYS)
    Archive.objects.filter(created_at__lt=now - keep).delete()
    # Every file without its row goes: expired, its requester deleted, a build cut off or
    # finished after its row went. The files hold personal data; none outlives its archive.
    alive = {str(pk) for pk in Archive.objects.values_list("pk", flat=True)}
    if folder().is_dir():
        for path in folder().glob("archive-*"):
            number = path.name.removeprefix("archive-").split(".")[0].split("-")[0]
            if number not in alive:
                path.unlink(missing_ok=True)
    return len(ids)


@shared_task(name="reports.build_archive", acks_late=True, reject_on_worker_lost=True)
def build_task(archive_id: int) -> None:
    build(archive_id)


@shared_task(name="reports.sweep_archives")
def sweep_task() -> int:
    return sweep()
