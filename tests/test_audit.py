"""The audit trail: append-only through the ORM, tamper-evident in the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cases.actors import Actor
from cases.audit import head_hash, verify_chain
from cases.models import CaseEvent
from cases.workflow import perform

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
    case = submit(cast.a)
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    chain = list(CaseEvent.objects.filter(case=case))
    assert [e.seq for e in chain] == [1, 2, 3]
    assert chain[0].prev_hash == ""
    assert chain[1].prev_hash == chain[0].hash and chain[2].prev_hash == chain[1].hash
    assert verify_chain(case) is None
    assert verify() == "1 audit chains intact\n"


def test_events_cannot_be_changed_or_deleted_through_the_orm(cast, submit):
    case = submit(cast.a)
    event = CaseEvent.objects.filter(case=case).first()
    event.message = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        CaseEvent.objects.filter(case=case).update(message="x")
    with pytest.raises(PermissionError):
        CaseEvent.objects.filter(case=case).delete()
    assert verify_chain(case) is None


def test_verify_audit_names_a_changed_event(cast, submit):
    case = submit(cast.a)
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="Original")
    other = submit(cast.b)
    raw_update(
        "UPDATE dsar_caseevent SET message = %s WHERE case_id = %s AND seq = 3",
        ["Forged", case.pk],
    )
    with pytest.raises(CommandError, match=r"1 fault\(s\) found; 2 audit chains checked") as error:
        verify()
    assert error.value.returncode == 1
    assert str(verify_chain(case)) == (
        f"{case.reference} event #3: content changed after it was written "
        "(its keyed hash does not match)"
    )
    assert verify_chain(other) is None


def test_verify_audit_catches_a_deleted_event(cast, submit):
    case = submit(cast.a)
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    raw_update("DELETE FROM dsar_caseevent WHERE case_id = %s AND seq = 2", [case.pk])
    assert "event #2: missing" in str(verify_chain(case))


def test_verify_audit_catches_a_rehashed_forgery(cast, submit):
    """Recomputing a forged event's own hash does not help: the next event points at the old."""
    case = submit(cast.a)
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    forged = CaseEvent.objects.get(case=case, seq=2)
    forged.actor_label = "someone_else"
    raw_update(
        "UPDATE dsar_caseevent SET actor_label = %s, hash = %s WHERE id = %s",
        ["someone_else", forged.compute_hash(), forged.pk],
    )
    assert "event #3: does not follow the previous event" in str(verify_chain(case))


def test_verify_audit_catches_a_state_changed_behind_the_trail(cast, submit):
    case = submit(cast.a)
    raw_update("UPDATE dsar_case SET state = 'completed' WHERE id = %s", [case.pk])
    case.refresh_from_db()
    assert "state differs from its last event" in str(verify_chain(case))


def test_the_hashed_form_of_an_event_never_changes(settings):
    """Every chain already written was hashed in this form: renaming a key (the case's is still
    "request", from before the model was called Case) would break them all at once."""
    settings.AUDIT_KEY = "a-fixed-key-for-this-test-0123456789abcdef"
    event = CaseEvent(
        case_id=7,
        seq=2,
        at=dt.datetime(2026, 3, 5, 9, 30, tzinfo=dt.UTC),
        actor_kind="officer",
        actor_label="officer_a",
        action="extend",
        from_state="in_progress",
        to_state="in_progress",
        message="Meer tijd",
        data={"reason": "Twaalf systemen"},
        prev_hash="ab" * 32,
    )
    canonical = (
        '{"action": "extend", "actor": "officer_a", "actor_kind": "officer", '
        '"at": "2026-03-05T09:30:00.000000+00:00", "data": {"reason": "Twaalf systemen"}, '
        '"from": "in_progress", "ground": "", "message": "Meer tijd", "prev": "' + "ab" * 32 + '", '
        '"request": 7, "seq": 2, "to": "in_progress"}'
    ).encode()
    assert event.canonical() == canonical
    assert (
        event.compute_hash()
        == hmac.new(settings.AUDIT_KEY.encode(), canonical, "sha256").hexdigest()
    )
    assert event.compute_hash() != hashlib.sha256(canonical).hexdigest()  # keyed, not plain


# --- The keyed chain and its head: what someone with write access to the database cannot hide.


def test_removing_the_last_events_is_caught_by_the_head(cast, submit):
    case = submit(cast.a)
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    raw_update("DELETE FROM dsar_caseevent WHERE case_id = %s AND seq = 3", [case.pk])
    raw_update("UPDATE dsar_case SET state = 'in_progress' WHERE id = %s", [case.pk])
    problem = str(verify_chain(case))
    assert "event #3: missing: the chain ends at #2 but its head records 3 events" in problem
    with pytest.raises(CommandError, match=r"1 fault\(s\) found; 1 audit chains checked"):
        verify()


def test_rewriting_the_last_event_with_a_recomputed_hash_is_caught(cast, submit):
    """Without the key a forger can only compute a plain hash, or a keyed one under another key."""
    case = submit(cast.a)
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="Original")
    forged = CaseEvent.objects.get(case=case, seq=3)
    forged.message = "Forged"
    for rehash in (
        hashlib.sha256(forged.canonical()).hexdigest(),
        hmac.new(b"a guessed key", forged.canonical(), "sha256").hexdigest(),
    ):
        raw_update(
            "UPDATE dsar_caseevent SET message = %s, hash = %s WHERE id = %s",
            ["Forged", rehash, forged.pk],
        )
        assert "event #3: content changed after it was written" in str(verify_chain(case))


def test_an_edited_head_is_caught(cast, submit):
    case = submit(cast.a)
    for count, head in ((case.audit_count + 1, case.audit_head), (case.audit_count, "0" * 64)):
        raw_update(
            "UPDATE dsar_case SET audit_count = %s, audit_head = %s WHERE id = %s",
            [count, head, case.pk],
        )
        assert verify_chain(case) is not None


def test_the_head_follows_every_event(cast, submit):
    case = submit(cast.a)
    case = perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    case.refresh_from_db()
    last = CaseEvent.objects.filter(case=case).last()
    assert case.audit_count == last.seq == 3
    assert case.audit_head == head_hash(case.pk, 3, last.hash)


def test_the_case_page_shows_the_head_and_what_verification_found(cast, submit, client):
    case = submit(cast.a)
    case.refresh_from_db()
    client.force_login(cast.auditor_a)
    client.cookies["django_language"] = "en"
    url = f"/admin/dsar/case/{case.pk}/change/"
    html = client.get(url).content.decode()
    assert "Hash chain of 2 events, head" in html and case.audit_head in html
    assert "verified intact just now" in html
    raw_update("DELETE FROM dsar_caseevent WHERE case_id = %s AND seq = 2", [case.pk])
    html = client.get(url).content.decode()
    assert "BROKEN" in html and "event #2: missing" in html


def test_a_hash_edited_into_non_ascii_text_is_named_and_the_check_goes_on(cast, submit, client):
    """compare_digest raises on such strings: the check must name the fault, not crash."""
    first, second = submit(cast.a), submit(cast.a, email="other@example.org")
    raw_update("UPDATE dsar_caseevent SET hash = %s WHERE case_id = %s", ["é" * 64, first.pk])
    raw_update("UPDATE dsar_case SET audit_head = %s WHERE id = %s", ["é" * 64, second.pk])
    assert verify_chain(first) is not None and verify_chain(second) is not None
    with pytest.raises(CommandError, match=r"2 fault\(s\) found; 2 audit chains checked"):
        verify()
    client.force_login(cast.officer_a)
    page = client.get(f"/admin/dsar/case/{second.pk}/change/")
    assert page.status_code == 200


def test_a_deleted_case_leaves_a_hole_in_the_numbering(cast, submit):
    cases = [submit(cast.a, email=f"s{n}@example.org") for n in range(3)]
    for related in type(cases[1])._meta.related_objects:  # events, mail, milestones, ...
        table, column = related.related_model._meta.db_table, related.field.column
        raw_update(f"DELETE FROM {table} WHERE {column} = %s", [cases[1].pk])  # noqa: S608
    raw_update("DELETE FROM dsar_case WHERE id = %s", [cases[1].pk])
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=out, stderr=err)
    assert f"{cases[1].reference}: no such request, but its number was given out" in err.getvalue()


def test_saved_heads_prove_a_truncation_that_restored_an_old_head(cast, submit, tmp_path):
    """An attacker who noted the head at two events cuts the chain back to it and puts it back:
    the database alone is consistent again; the heads saved outside it are not."""
    case = submit(cast.a)  # receive, confirm: 2 events
    old = case.__class__.objects.values("audit_count", "audit_last", "audit_head").get(pk=case.pk)
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    saved = tmp_path / "heads.json"
    call_command("verify_audit", save_heads=saved, stdout=io.StringIO())
    assert '"count": 3' in saved.read_text()

    raw_update("DELETE FROM dsar_caseevent WHERE case_id = %s AND seq = 3", [case.pk])
    raw_update(
        "UPDATE dsar_case SET audit_count = %s, audit_last = %s, audit_head = %s, state = %s "
        "WHERE id = %s",
        [old["audit_count"], old["audit_last"], old["audit_head"], "in_progress", case.pk],
    )
    assert verify_chain(case) is None  # the database alone cannot tell
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", against=saved, stdout=out, stderr=err)
    assert f"{case.reference} event #3: missing" in err.getvalue()


def test_heads_saved_earlier_still_hold_while_the_chain_grows(cast, submit, tmp_path):
    case = submit(cast.a)
    saved = tmp_path / "heads.json"
    call_command("verify_audit", save_heads=saved, stdout=io.StringIO())
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="?")
    out = io.StringIO()
    call_command("verify_audit", against=saved, stdout=out, stderr=io.StringIO())
    assert "1 audit chains intact" in out.getvalue()


@pytest.mark.parametrize(
    "content", ["", "not json", '{"heads": [{"reference": "x"}]}', '{"heads": 3}', "[]"]
)
def test_a_bad_heads_file_is_refused_before_anything_is_checked(tmp_path, content):
    bad = tmp_path / "heads.json"
    bad.write_text(content)
    with pytest.raises(CommandError, match="not a file written by --save-heads"):
        call_command("verify_audit", against=bad, stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="cannot read"):
        call_command("verify_audit", against=tmp_path / "absent.json", stdout=io.StringIO())
