"""The audit trail: one CaseEvent a step, chained by hash so that tampering shows.

Each event's hash covers its canonical content and the previous event's hash of the same
request. Rows cannot be updated or deleted through the ORM (see ``CaseEvent``); a change made
directly in the database is caught by ``verify_chain``, which ``manage.py verify_audit`` runs over
every request and which names the first broken link.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from .models import CaseEvent, Request

if TYPE_CHECKING:
    from .workflow import Actor


def record_event(
    request: Request,
    *,
    actor: Actor,
    action: str,
    from_state: str,
    to_state: str,
    at: dt.datetime,
    ground: str = "",
    message: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append an event. Call inside the transaction that holds the request's row lock."""
    last = CaseEvent.objects.filter(request=request).order_by("-seq").first()
    event = CaseEvent(
        request=request,
        seq=(last.seq + 1) if last else 1,
        at=at,
        actor_kind=actor.kind,
        actor=actor.user if actor.kind == "officer" else None,
        actor_label=actor.label,
        action=action,
        from_state=from_state,
        to_state=to_state,
        ground=ground,
        message=message,
        data=data or {},
        prev_hash=last.hash if last else "",
    )
    # JSON round trip first, so the hash covers exactly what the database will return.
    event.data = _json_roundtrip(event.data)
    event.hash = event.compute_hash()
    event.save()
    return event


def note(
    request: Request,
    *,
    actor: Actor,
    action: str,
    at: dt.datetime,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Record something that happened to a request without changing its state (a reply by mail,
    a provider's delivery report): lock the row, append the event."""
    with transaction.atomic():
        locked = Request.objects.select_for_update(of=("self",)).get(pk=request.pk)
        return record_event(
            locked,
            actor=actor,
            action=action,
            from_state=locked.state,
            to_state=locked.state,
            at=at,
            message=message,
            data=data,
        )


def _json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))


@dataclass(frozen=True)
class BrokenLink:
    reference: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"{self.reference} event #{self.seq}: {self.problem}"


def verify_chain(request: Request) -> BrokenLink | None:
    """The first broken link of one request's chain, or None if it is intact."""
    previous = previous_state = ""
    expected_seq = 1
    for event in CaseEvent.objects.filter(request=request).order_by("seq"):
        if event.seq != expected_seq:
            return BrokenLink(request.reference, expected_seq, "missing (sequence has a gap)")
        if event.prev_hash != previous:
            return BrokenLink(
                request.reference, event.seq, "does not follow the previous event (chain cut)"
            )
        if event.compute_hash() != event.hash:
            return BrokenLink(request.reference, event.seq, "content changed after it was written")
        previous = event.hash
        previous_state = event.to_state
        expected_seq += 1
    if expected_seq == 1:
        return BrokenLink(request.reference, 1, "no events: the receipt was never recorded")
    stored_state = Request.objects.values_list("state", flat=True).get(pk=request.pk)
    if stored_state != previous_state:
        return BrokenLink(
            request.reference, expected_seq - 1, "the request's state differs from its last event"
        )
    return None


def verify_all() -> Iterator[tuple[Request, BrokenLink | None]]:
    for request in Request.objects.order_by("pk").iterator(chunk_size=500):
        yield request, verify_chain(request)
