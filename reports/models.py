"""The reports' own table: a ZIP of the case reports of a period, built by a Celery task."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ArchiveStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be built")
    BUILDING = "building", _("being built")
    READY = "ready", _("ready")
    FAILED = "failed", _("could not be built")


class Archive(models.Model):
    """The case reports (PDF) of every request of the chosen controllers closed in a period, as
    one ZIP. It holds personal data (names, texts): only its requester downloads it, and it is
    deleted after ``REPORT_ARCHIVE_DAYS``."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    controllers = models.JSONField()  # ids, within the requester's scope when asked
    start = models.DateField()
    end = models.DateField()
    language = models.CharField(max_length=5)
    status = models.CharField(
        max_length=10, choices=ArchiveStatus.choices, default=ArchiveStatus.PENDING
    )
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    token = models.CharField(max_length=32, blank=True)  # the build under way (archive.build)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"archive {self.pk} {self.start}..{self.end} ({self.status})"
