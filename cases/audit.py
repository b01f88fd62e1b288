"""The audit trail: one CaseEvent a step, chained by keyed hash so that tampering shows.

Each event's hash is an HMAC, under ``settings.AUDIT_KEY`` (never in the database), of its
canonical content and the previous event's hash of the same case. The case keeps the chain's
head: how many events there are and an HMAC of that count with the last event's hash. Rows
cannot be updated or deleted through the ORM (see ``CaseEvent``); a change made directly in the
database is caught by ``verify_chain``, which ``manage.py verify_audit`` runs over every case:

- an event edited, even with its hash recomputed: its keyed hash does not match;
- an event removed from the middle: the sequence has a gap, the next one does not follow;
- the last events removed: the head counts more events than there are;
- the head itself edited: it does not match its keyed hash.

What the database alone cannot prove: someone who noted an earlier head can cut the chain back
to it and put that head back, or delete a whole case with its events. Two checks reach outside:
``missing_references`` (references are numbered without gaps, so a deleted case leaves a hole)
and ``compare_heads`` against heads saved earlier, outside the database (``verify_audit
--save-heads``, and the auditor's report, which prints the head).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from .actors import Actor
from .models import Case, CaseEvent, ReferenceCounter


def record_event(
    case: Case,
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
    """Append an event. Call inside the transaction that holds the case's row lock, with the
    case as it was read under that lock: its head says where the chain ends (no event is read;
    should it be stale, the unique (case, seq) refuses the event and the transaction fails)."""
    event = CaseEvent(
        case=case,
        seq=case.audit_count + 1,
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
        prev_hash=case.audit_last,
    )
    # JSON round trip first, so the hash covers exactly what the database will return.
    event.data = _json_roundtrip(event.data)
    event.hash = event.compute_hash()
    event.save()
    # The head moves with the chain, in the same transaction (the case's row is locked).
    case.audit_count, case.audit_last = event.seq, event.hash
    case.audit_head = head_hash(case.pk, event.seq, event.hash)
    Case.objects.filter(pk=case.pk).update(
        audit_count=case.audit_count, audit_last=case.audit_last, audit_head=case.audit_head
    )
    return event


def head_hash(case_id: int, count: int, last_hash: str) -> str:
    """The keyed hash of a chain's head: its case, its length and its last event's hash."""
    content = f"head:{case_id}:{count}:{last_hash}".encode()
    return hmac.new(settings.AUDIT_KEY.encode(), content, hashlib.sha256).hexdigest()


def note(
    case: Case,
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
        case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        return record_event(
            case,
            actor=actor,
            action=action,
            from_state=case.state,
            to_state=case.state,
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


def _same(expected: str, found: str) -> bool:
    """Constant-time comparison of two hashes as bytes: ``compare_digest`` raises on a str
    with non-ASCII characters, which an edited row may well hold."""
    return hmac.compare_digest(expected.encode(), found.encode("utf-8", "surrogatepass"))


def verify_chain(case: Case, events: Iterable[CaseEvent] | None = None) -> BrokenLink | None:
    """The first broken link of one case's chain, or None if it is intact. ``events``: the
    case's events in order, when the caller has them already (a report reads them once)."""
    previous = previous_state = ""
    expected_seq = 1
    if events is None:
        events = CaseEvent.objects.filter(case=case).order_by("seq")
    for event in events:
        if event.seq != expected_seq:
            return BrokenLink(case.reference, expected_seq, "missing (sequence has a gap)")
        if event.prev_hash != previous:
            return BrokenLink(
                case.reference, event.seq, "does not follow the previous event (chain cut)"
            )
        if not _same(event.compute_hash(), event.hash):
            return BrokenLink(
                case.reference,
                event.seq,
                "content changed after it was written (its keyed hash does not match)",
            )
        previous = event.hash
        previous_state = event.to_state
        expected_seq += 1
    count = expected_seq - 1
    if count == 0:
        return BrokenLink(case.reference, 1, "no events: the receipt was never recorded")
    stored = Case.objects.values("state", "audit_count", "audit_head", "audit_last").get(pk=case.pk)
    if stored["audit_count"] > count:
        return BrokenLink(
            case.reference,
            count + 1,
            f"missing: the chain ends at #{count} but its head records "
            f"{stored['audit_count']} events (the last ones were removed)",
        )
    if (
        stored["audit_count"] != count
        or stored["audit_last"] != previous
        or not _same(head_hash(case.pk, count, previous), stored["audit_head"])
    ):
        return BrokenLink(
            case.reference, count, "the chain's head does not match its events (head edited)"
        )
    if stored["state"] != previous_state:
        return BrokenLink(case.reference, count, "the case's state differs from its last event")
    return None


def verify_all() -> Iterator[tuple[Case, BrokenLink | None]]:
    for case in Case.objects.order_by("pk").iterator(chunk_size=500):
        yield case, verify_chain(case)


def missing_references() -> Iterator[str]:
    """References handed out but belonging to no case: each year's numbers run from 1 to its
    counter without gaps (a rolled-back intake takes none), so a hole is a deleted case."""
    for counter in ReferenceCounter.objects.order_by("year"):
        prefix = f"DSAR-{counter.year}-"
        present = {
            int(reference.removeprefix(prefix))
            for reference in Case.objects.filter(reference__startswith=prefix).values_list(
                "reference", flat=True
            )
        }
        for number in range(1, counter.last + 1):
            if number not in present:
                yield f"{prefix}{number:06d}"


@dataclass(frozen=True)
class Head:
    """Where a case's chain ended when it was saved: its length and its last event's hash."""

    reference: str
    count: int
    last: str


def heads() -> Iterator[Head]:
    rows = Case.objects.order_by("pk").values_list("reference", "audit_count", "audit_last")
    for reference, count, last in rows.iterator(chunk_size=2000):
        yield Head(reference, count, last)


def compare_heads(saved: Iterable[Head]) -> Iterator[BrokenLink]:
    """What changed in the chains since their heads were saved: a chain must still hold the
    event the saved head ended on, with the same hash (it may have grown since)."""
    for head in saved:
        case = Case.objects.filter(reference=head.reference).only("pk").first()
        if case is None:
            yield BrokenLink(
                head.reference, head.count, "the case is gone since its head was saved"
            )
            continue
        found = (
            CaseEvent.objects.filter(case=case, seq=head.count)
            .values_list("hash", flat=True)
            .first()
        )
        if found is None:
            yield BrokenLink(
                head.reference,
                head.count,
                "missing: the chain was shorter than its saved head (events were removed)",
            )
        elif not _same(head.last, found):
            yield BrokenLink(
                head.reference, head.count, "differs from the saved head (the chain was rewritten)"
            )
