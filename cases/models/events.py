"""The audit trail's rows: one event a step, append-only, chained by keyed hash (cases.audit)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.db import models

from .case import Case


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("case events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("case events are append-only")


# The events that ask the subject for an ID copy, or bring one: asked later, sent later, or
# demanded by the form and sent with the request (the receipt records whether it came).
ID_ASKED = ("ask_identity", "submit_identity")
ID_COPY_EVENTS = models.Q(action__in=ID_ASKED) | models.Q(action="receive", data__id_document=True)


class CaseEvent(models.Model):
    """One step in a request's life. Append-only and chained by hash (tamper-evident)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField()
    actor_kind = models.CharField(max_length=10)  # subject, officer, system
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=150)  # kept if the user is deleted
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30)
    ground = models.CharField(max_length=30, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["case", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["case", "seq"], name="one_event_a_seq"),
        ]
        indexes = [
            # The compliance report counts the requests an ID copy was asked of: without it,
            # every event of every request is read (reports.compliance, ID_COPY_EVENTS).
            models.Index(fields=["case"], name="event_id_copy", condition=ID_COPY_EVENTS),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("case events are append-only")

    def canonical(self) -> bytes:
        """The content the hash covers, in a stable serialisation."""
        content = {
            # The key stays "request": it is part of the hashed content of every existing event.
            "request": self.case_id,
            "seq": self.seq,
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor_kind": self.actor_kind,
            "actor": self.actor_label,
            "action": self.action,
            "from": self.from_state,
            "to": self.to_state,
            "ground": self.ground,
            "message": self.message,
            "data": self.data,
            "prev": self.prev_hash,
        }
        return json.dumps(content, sort_keys=True, ensure_ascii=False).encode()

    def compute_hash(self) -> str:
        """HMAC-SHA256 of the canonical content under settings.AUDIT_KEY: without the key, an
        event cannot be rewritten with a hash that still verifies."""
        return hmac.new(settings.AUDIT_KEY.encode(), self.canonical(), hashlib.sha256).hexdigest()
