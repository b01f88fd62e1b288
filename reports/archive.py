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
# Progress is written every this many reports.
STEP = 10
# A build that has not moved for this long was cut off (its worker died): it is started again.
STALE = dt.timedelta(minutes=10)


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
    controllers = list(Controller.objects.filter(pk__in=archive.controllers))
    cases = closed_in(controllers, archive.start, archive.end)
    total = cases.count()
    Archive.objects.filter(pk=archive.pk).update(total=total)
    target = path_of(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as bundle:
            for done, case in enumerate(cases.select_related("controller").iterator(), start=1):
                bundle.writestr(f"{case.reference}.pdf", render(case, language=archive.language))
                if done % STEP == 0:
                    Archive.objects.filter(pk=archive.pk).update(
                        done=done, updated_at=timezone.now()
                    )
        partial.replace(target)
    except Exception as error:
        partial.unlink(missing_ok=True)
        log.exception("archive %s failed", archive.pk)
        Archive.objects.filter(pk=archive.pk).update(
            status=ArchiveStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
        )
        return
    Archive.objects.filter(pk=archive.pk).update(
        status=ArchiveStatus.READY, done=total, finished_at=timezone.now()
    )


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
    expired = Archive.objects.filter(
        created_at__lt=now - dt.timedelta(days=settings.REPORT_ARCHIVE_DAYS)
    )
    for archive in expired:
        path_of(archive).unlink(missing_ok=True)
        archive.delete()
    return len(ids)


@shared_task(name="reports.build_archive", acks_late=True, reject_on_worker_lost=True)
def build_task(archive_id: int) -> None:
    build(archive_id)


@shared_task(name="reports.sweep_archives")
def sweep_task() -> int:
    return sweep()
