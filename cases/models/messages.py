"""Messages between the controller and the subject, as the subject's status page shows them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .case import Case


class Direction(models.TextChoices):
    TO_SUBJECT = "to_subject", _("To the subject")
    FROM_SUBJECT = "from_subject", _("From the subject")


class Message(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=15, choices=Direction.choices)
    body = models.TextField(max_length=10000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.direction} {self.created_at:%Y-%m-%d %H:%M}"
