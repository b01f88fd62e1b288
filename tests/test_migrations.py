"""Migrations keep every row: the rename of Request to Case moves data, never drops it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("dsar", "0005_inbound_mail"), ("controllers", "0002_supervisory_authorities")]
AFTER = [("dsar", "0006_case")]


def migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def a_controller(apps, slug: str):
    """A controller, through the models of a past migration state."""
    authority = apps.get_model("controllers", "SupervisoryAuthority").objects.get(code="AP")
    return apps.get_model("controllers", "Controller").objects.create(
        slug=slug,
        legal_name=slug.upper(),
        country="NL",
        time_zone="Europe/Amsterdam",
        supervisory_authority=authority,
    )


def open_case(model, reference: str, controller, now: dt.datetime):
    """An access request in progress, through the model of a past migration state."""
    return model.objects.create(
        reference=reference,
        controller=controller,
        right="access",
        state="in_progress",
        channel="web",
        language="nl",
        received_at=now,
        name="Jan",
        email="jan@example.org",
        status_salt="s",
        statutory_deadline=now,
        extended_deadline=now,
        notice_by=now,
        effective_deadline=now,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_renaming_request_to_case_keeps_the_request_and_everything_hanging_off_it():
    old = migrate(BEFORE)
    controller = a_controller(old, "m")
    now = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
    request = open_case(old.get_model("dsar", "Request"), "DSAR-2026-000001", controller, now)
    old.get_model("dsar", "CaseEvent").objects.create(
        request=request,
        seq=1,
        at=now,
        actor_kind="subject",
        actor_label="subject",
        action="receive",
        to_state="unconfirmed",
        hash="h",
    )
    old.get_model("dsar", "Message").objects.create(
        request=request, direction="from_subject", body="Hallo", created_at=now
    )

    new = migrate(AFTER)
    case = new.get_model("dsar", "Case").objects.get(reference="DSAR-2026-000001")
    assert (case.pk, case.email, case.state) == (request.pk, "jan@example.org", "in_progress")
    assert list(new.get_model("dsar", "CaseEvent").objects.values_list("case_id", "action")) == [
        (case.pk, "receive")
    ]
    assert new.get_model("dsar", "Message").objects.get().case_id == case.pk
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_existing_chains_are_re_keyed_and_verify_afterwards():
    """A chain hashed with plain SHA-256 (before the key) is re-keyed in place and gets its head;
    one already broken is left as it was, and still shows as broken."""
    import hashlib
    import json

    from cases.audit import verify_chain
    from cases.models import Case

    # The controllers too: a controller row written through the old state has no notify.
    old = migrate([("dsar", "0007_inbound_problem"), ("controllers", "0004_systems")])
    controller = a_controller(old, "k")
    now = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
    OldCase = old.get_model("dsar", "Case")
    OldEvent = old.get_model("dsar", "CaseEvent")
    for reference, tamper in (("DSAR-2026-000001", False), ("DSAR-2026-000002", True)):
        case = open_case(OldCase, reference, controller, now)
        previous = ""
        for seq, (action, to) in enumerate(
            [("receive", "unconfirmed"), ("confirm_email", "in_progress")], start=1
        ):
            content = {
                "request": case.pk,
                "seq": seq,
                "at": now.isoformat(timespec="microseconds"),
                "actor_kind": "subject",
                "actor": "subject",
                "action": action,
                "from": "",
                "to": to,
                "ground": "",
                "message": "",
                "data": {},
                "prev": previous,
            }
            digest = hashlib.sha256(
                json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
            ).hexdigest()
            OldEvent.objects.create(
                case=case,
                seq=seq,
                at=now,
                actor_kind="subject",
                actor_label="subject",
                action=action,
                to_state=to,
                prev_hash=previous,
                hash="0" * 64 if tamper and seq == 2 else digest,
            )
            previous = digest

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    intact = Case.objects.get(reference="DSAR-2026-000001")
    assert intact.audit_count == 2 and verify_chain(intact) is None
    assert verify_chain(Case.objects.get(reference="DSAR-2026-000002")) is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_decided_cases_from_before_take_the_sent_time_of_their_decision_s_mail():
    """A decision made before the sending was recorded counts from its mail, as a new one does:
    the subject's "completed" or "refused" mail that was sent (and did not bounce) carries the
    decision, "extended" the extension notice; a decision whose mail bounced or never left was
    not communicated."""
    old = migrate([("dsar", "0012_mail_record"), ("controllers", "0006_policy_versions")])
    controller = a_controller(old, "d")
    now = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
    OldCase, OldMail = old.get_model("dsar", "Case"), old.get_model("dsar", "OutgoingMail")
    cases = {}
    for reference, kind, status, delivery in (
        ("DSAR-2026-000001", "completed", "sent", ""),
        ("DSAR-2026-000002", "refused", "sent", "bounced"),
        ("DSAR-2026-000003", "completed", "queued", ""),
        ("DSAR-2026-000004", "extended", "sent", "delivered"),
    ):
        case = open_case(OldCase, reference, controller, now)
        cases[reference] = case
        OldMail.objects.create(
            case=case,
            to="Jan@Example.org",  # the same address, as typed
            kind=kind,
            language="nl",
            status=status,
            sent_at=now + dt.timedelta(days=3) if status == "sent" else None,
            delivery_status=delivery,
        )
        OldMail.objects.create(  # an officer's notice is no communication to the subject
            case=case,
            to="officer@example.org",
            kind="completed",
            language="nl",
            status="sent",
            sent_at=now,
        )

    new = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    Case = new.get_model("dsar", "Case")
    sent = {c.reference: (c.decision_sent_at, c.extension_sent_at) for c in Case.objects.all()}
    later = now + dt.timedelta(days=3)
    assert sent == {
        "DSAR-2026-000001": (later, None),
        "DSAR-2026-000002": (None, None),  # bounced
        "DSAR-2026-000003": (None, None),  # never left
        "DSAR-2026-000004": (None, later),
    }
    carriers = new.get_model("dsar", "OutgoingMail").objects.exclude(carries="")
    assert sorted(carriers.values_list("case__reference", "carries")) == [
        ("DSAR-2026-000001", "decision"),
        ("DSAR-2026-000002", "decision"),
        ("DSAR-2026-000003", "decision"),
        ("DSAR-2026-000004", "extension"),
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_notices_told_before_their_mail_left_are_being_mailed_and_told_again_backwards():
    """Forwards, a notice recorded as told whose mail has not left is "being mailed" (its mail
    tells when it left); backwards, the earlier code knows no "being mailed": the notice is told
    again, at the time its mail was queued, as that code had it."""
    # Every other app as it is now (their state at these targets is the tables' own).
    others = [
        n for n in MigrationExecutor(connection).loader.graph.leaf_nodes() if n[0] != "fulfilment"
    ]
    before = [*others, ("fulfilment", "0006_kept_keys")]
    after = [*others, ("fulfilment", "0007_notice_mailing")]
    old = migrate(before)
    controller = a_controller(old, "n")
    now = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
    case = open_case(old.get_model("dsar", "Case"), "DSAR-2026-000001", controller, now)
    plan = old.get_model("fulfilment", "Plan").objects.create(
        case_id=case.pk, purpose="erasure", body={"systems": []}, sha256="0" * 64, made_at=now
    )
    OldMail, OldNotice = (
        old.get_model("dsar", "OutgoingMail"),
        old.get_model("fulfilment", "Notice"),
    )
    for recipient, status in (("queued", "queued"), ("left", "sent")):
        mail = OldMail.objects.create(
            case_id=case.pk,
            to=f"{recipient}@example.org",
            kind="recipient_notice",
            language="nl",
            status=status,
            created_at=now,
            sent_at=now + dt.timedelta(hours=1) if status == "sent" else None,
        )
        OldNotice.objects.create(
            case_id=case.pk,
            plan_id=plan.pk,
            recipient=recipient,
            channel="email",
            address=mail.to,
            status="sent",
            sent_at=now,
            mail_id=mail.pk,
        )

    def notices(apps) -> dict:
        Notice = apps.get_model("fulfilment", "Notice")
        return {n.recipient: (n.status, n.sent_at) for n in Notice.objects.all()}

    assert notices(migrate(after)) == {"queued": ("mailing", None), "left": ("sent", now)}
    assert notices(migrate(before)) == {"queued": ("sent", now), "left": ("sent", now)}
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_collections_and_executions_become_searches_and_changes_with_every_row_kept():
    """Issue 22's rename: the rows stay (same keys, same data, reached by the new related
    names), and a queued mail of a failed search takes its new kind; backwards, the old."""
    graph = MigrationExecutor(connection).loader.graph
    others = [n for n in graph.leaf_nodes() if n[0] != "fulfilment"]
    rename = ("fulfilment", "0011_search_and_change")
    (parent,) = [n for n in graph.node_map[rename].parents if n[0] == "fulfilment"]
    old = migrate([*others, parent])
    controller = a_controller(old, "r")
    now = dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
    case = open_case(old.get_model("dsar", "Case"), "DSAR-2026-000001", controller, now)
    job = {"system_name": "crm", "system_title": "CRM", "kind": "sql", "status": "done"}
    collection = old.get_model("fulfilment", "Collection").objects.create(
        case_id=case.pk, counts={"customers": 2}, **job
    )
    plan = old.get_model("fulfilment", "Plan").objects.create(
        case_id=case.pk, purpose="erasure", body={"systems": []}, sha256="0" * 64, made_at=now
    )
    execution = old.get_model("fulfilment", "Execution").objects.create(
        case_id=case.pk, plan_id=plan.pk, counts={"customers": 2}, **job
    )
    mail = old.get_model("dsar", "OutgoingMail").objects.create(
        case_id=case.pk, to="o@example.org", kind="collection_failed", language="nl", created_at=now
    )

    new = migrate([*others, rename])
    Case = new.get_model("dsar", "Case")
    search = Case.objects.get(pk=case.pk).searches.get()
    change = new.get_model("fulfilment", "Plan").objects.get(pk=plan.pk).changes.get()
    assert (search.pk, search.counts) == (collection.pk, {"customers": 2})
    assert (change.pk, change.case_id, change.counts) == (execution.pk, case.pk, {"customers": 2})
    assert Case.objects.get(pk=case.pk).changes.get().pk == execution.pk
    assert new.get_model("dsar", "OutgoingMail").objects.get(pk=mail.pk).kind == "search_failed"

    back = migrate([*others, parent])
    assert back.get_model("fulfilment", "Collection").objects.get().pk == collection.pk
    assert back.get_model("fulfilment", "Execution").objects.get().pk == execution.pk
    assert back.get_model("dsar", "OutgoingMail").objects.get().kind == "collection_failed"
    migrate(graph.leaf_nodes())
