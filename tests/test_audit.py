"""The audit trail: append-only through the ORM, tamper-evident in the database."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from dsar.audit import verify_chain
from dsar.models import CaseEvent
from dsar.workflow import Actor, perform

pytestmark = pytest.mark.django_db


def verify() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def raw_update(sql: str, params: list) -> None:
    # What an attacker with database access does: around the ORM.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_each_event_chains_to_the_previous_one(cast, submit):
    request = submit(cast.a)
    perform(request, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    chain = list(CaseEvent.objects.filter(request=request))
    assert [e.seq for e in chain] == [1, 2, 3]
    assert chain[0].prev_hash == ""
    assert chain[1].prev_hash == chain[0].hash and chain[2].prev_hash == chain[1].hash
    assert verify_chain(request) is None
    assert verify() == "1 audit chains intact\n"


def test_events_cannot_be_changed_or_deleted_through_the_orm(cast, submit):
    request = submit(cast.a)
    event = CaseEvent.objects.filter(request=request).first()
    event.message = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        CaseEvent.objects.filter(request=request).update(message="x")
    with pytest.raises(PermissionError):
        CaseEvent.objects.filter(request=request).delete()
    assert verify_chain(request) is None


def test_verify_audit_names_a_changed_event(cast, submit):
    request = submit(cast.a)
    perform(request, "ask_subject", actor=Actor.officer(cast.officer_a), message="Original")
    other = submit(cast.b)
    raw_update(
        "UPDATE dsar_caseevent SET message = %s WHERE request_id = %s AND seq = 3",
        ["Forged", request.pk],
    )
    with pytest.raises(CommandError, match="1 of 2 audit chains are broken") as error:
        verify()
    assert error.value.returncode == 1
    assert str(verify_chain(request)) == (
        f"{request.reference} event #3: content changed after it was written"
    )
    assert verify_chain(other) is None


def test_verify_audit_catches_a_deleted_event(cast, submit):
    request = submit(cast.a)
    perform(request, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    raw_update("DELETE FROM dsar_caseevent WHERE request_id = %s AND seq = 2", [request.pk])
    assert "event #2: missing" in str(verify_chain(request))


def test_verify_audit_catches_a_rehashed_forgery(cast, submit):
    """Recomputing a forged event's own hash does not help: the next event points at the old."""
    request = submit(cast.a)
    perform(request, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    forged = CaseEvent.objects.get(request=request, seq=2)
    forged.actor_label = "someone_else"
    raw_update(
        "UPDATE dsar_caseevent SET actor_label = %s, hash = %s WHERE id = %s",
        ["someone_else", forged.compute_hash(), forged.pk],
    )
    assert "event #3: does not follow the previous event" in str(verify_chain(request))


def test_verify_audit_catches_a_state_changed_behind_the_trail(cast, submit):
    request = submit(cast.a)
    raw_update("UPDATE dsar_request SET state = 'completed' WHERE id = %s", [request.pk])
    request.refresh_from_db()
    assert "state differs from its last event" in str(verify_chain(request))
