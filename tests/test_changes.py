"""The rights that change data, end to end on the demo systems: plan (a dry run), approval of
exactly the reviewed plan, change and verification, Art. 19 notices, the completion letter."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from cases.actors import Actor
from cases.models import CaseEvent, State
from cases.workflow import perform
from fulfilment.changes import plans
from fulfilment.models import ChangeStatus, NoticeStatus, PlanStatus
from fulfilment.searches.find import find_subject

from .demo_world import (
    NO_DISCLOSURE,
    SUBJECT,
    actions,
    drive_to_work,
    nothing_disclosed,
    poll_until_settled,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def rows(world, file: str, sql: str, *args) -> list[tuple]:
    db = sqlite3.connect(world["folder"] / file)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def counts(controller) -> dict[str, dict[str, int]]:
    return {
        f.system: {t.table: t.rows for t in f.tables}
        for f in find_subject(controller, {"email": SUBJECT.email})
    }


def approve(committed, case, officer):
    plan = plans.current(case)
    assert plan is not None and plan.status == PlanStatus.DRAFT
    return committed(perform, case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)


def finish(committed, case, officer) -> None:
    officer_actor = Actor.officer(officer)
    # The recipients that receive data only on occasion: the officer checked the register.
    nothing_disclosed(committed, case, officer)
    case = committed(perform, case, "prepare_response", actor=officer_actor, response="Done.")
    committed(perform, case, "complete", actor=officer_actor)


def test_an_erasure_at_defero_deletes_keeps_what_the_law_keeps_and_says_so(
    world, committed, mailoutbox
):
    defero, officer = world["controllers"]["defero"], world["officer"]
    before = counts(defero)
    assert before["klantenadministratie"] == {"klanten": 1, "contactmomenten": 2, "nieuwsbrief": 1}
    case = drive_to_work(committed, defero, officer, "erasure")
    plan = plans.current(case)  # made by itself once identity was settled (a dry run)
    assert plan is not None
    assert counts(defero) == before  # the dry run wrote nothing
    systems = {s["system"]: s for s in plan.body["systems"]}
    tables = {t["table"]: t for t in systems["klantenadministratie"]["tables"]}
    assert tables["klanten"] == {
        "table": "klanten",
        "label": "Klanten",
        "op": "delete",
        "rows": 1,
    }
    assert systems["financiele-administratie"]["task"] == "keep"
    assert "52" in systems["financiele-administratie"]["keep_ground"]
    # Only the plan that was reviewed is approved.
    with pytest.raises(ValidationError, match="changed since you reviewed"):
        perform(case, "approve_plan", actor=Actor.officer(officer), plan="0" * 64)
    approve(committed, case, officer)
    after = counts(defero)
    assert after["klantenadministratie"] == {"klanten": 0, "contactmomenten": 0, "nieuwsbrief": 0}
    others = rows(world, "defero-klanten.sqlite3", "SELECT count(*) FROM klanten")[0][0]
    assert others == 30  # everybody else is still there
    changes = {e.system_name: e for e in case.changes.all()}
    assert changes["klantenadministratie"].status == ChangeStatus.DONE
    assert changes["financiele-administratie"].status == ChangeStatus.MANUAL
    # Not finished while the bookkeeper has not confirmed the restriction.
    with pytest.raises(ValidationError, match="Not every change is done"):
        perform(case, "prepare_response", actor=Actor.officer(officer), response="x")
    from fulfilment.changes import execute

    committed(
        execute.confirm_manual,
        changes["financiele-administratie"],
        actor=Actor.officer(officer),
        note_text="Boekhouder bevestigt per mail: facturen gemarkeerd als beperkt.",
        found=True,
    )
    notices = {n.recipient: n for n in case.notices.all()}
    assert notices["verwerkers"].status == NoticeStatus.SENT
    # Defero shares with third parties only with the subject's consent: whether it did for
    # this subject is the officer's to record, and the response waits for it.
    assert notices["derden"].status == NoticeStatus.UNRESOLVED
    with pytest.raises(ValidationError, match=r"These recipients wait for you.*derden"):
        perform(case, "prepare_response", actor=Actor.officer(officer), response="x")
    assert nothing_disclosed(committed, case, officer) == ["derden"]
    assert any(m.to == ["privacy@boekhouder.example"] for m in mailoutbox)
    finish(committed, case, officer)
    case.refresh_from_db()
    assert case.state == State.COMPLETED
    letter = next(m for m in mailoutbox if m.to == [SUBJECT.email] and "What was done" in m.subject)
    assert "1 record of Klanten deleted" in letter.body
    assert "2 records of Contactmomenten deleted" in letter.body
    assert "Algemene wet inzake rijksbelastingen" in letter.body
    assert "We told these recipients of your data (Art. 19 GDPR):\n- verwerkers" in letter.body
    assert (
        "None of your data were disclosed to these recipients, so there was nothing to tell "
        "them:\n- derden"
    ) in letter.body
    assert "derden was not told" not in letter.body and NO_DISCLOSURE not in letter.body
    assert "Autoriteit Persoonsgegevens" in letter.body
    trail = actions(case)
    for action in (
        "plan_made",
        "approve_plan",
        "system_changed",
        "recipients_notified",
        "completion_letter",
    ):
        assert action in trail
    assert CaseEvent.objects.get(case=case, action="approve_plan").data["plan"] == plan.sha256


def test_an_erasure_at_smartphoto_removes_the_photos_and_keeps_the_invoices_unlinked(
    world, committed, mailoutbox
):
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    photos = world["folder"] / "smartphoto-photos"
    theirs = [
        photos / path
        for (path,) in rows(
            world,
            "smartphoto-webshop.sqlite3",
            "SELECT p.file_path FROM photos p JOIN albums a ON a.id = p.album_id "
            "JOIN accounts c ON c.id = a.account_id WHERE lower(c.email) = ?",
            SUBJECT.email,
        )
    ]
    assert theirs and all(path.is_file() for path in theirs)
    everyone = sorted(p for p in photos.rglob("*") if p.is_file())
    orders = rows(world, "smartphoto-webshop.sqlite3", "SELECT count(*) FROM orders")[0][0]
    case = drive_to_work(committed, smartphoto, officer, "erasure")
    plan = plans.current(case)
    entry = plan.body["systems"][0]
    by_table = {t["table"]: t for t in entry["tables"]}
    assert by_table["orders"]["op"] == "update" and by_table["orders"]["keep_until"]
    approve(committed, case, officer)
    change = case.changes.get()
    assert change.status == ChangeStatus.DONE, change.error
    assert change.files_deleted == len(theirs)
    assert not any(path.exists() for path in theirs)
    assert sorted(p for p in photos.rglob("*") if p.is_file()) == sorted(
        set(everyone) - set(theirs)
    )
    # The orders stay (invoices), without a name, an address or the link to the account.
    assert rows(world, "smartphoto-webshop.sqlite3", "SELECT count(*) FROM orders")[0][0] == orders
    assert counts(smartphoto)["webshop"]["accounts"] == 0
    planned = by_table["orders"]["rows"]
    assert planned > 0
    unlinked = rows(
        world,
        "smartphoto-webshop.sqlite3",
        "SELECT count(*) FROM orders WHERE account_id IS NULL AND delivery_address IS NULL",
    )[0][0]
    assert unlinked == planned
    finish(committed, case, officer)
    letter = next(m for m in mailoutbox if "What was done" in m.subject)
    assert "Btw-Wetboek" in letter.body and by_table["orders"]["keep_until"] in letter.body


def test_withdrawing_consent_at_smart_site_unsubscribes_the_newsletter_only(
    world, committed, mailoutbox
):
    site, officer = world["controllers"]["smart-site"], world["officer"]
    before = find_subject(site, {"email": SUBJECT.email})[0]
    newsletter = next(t for t in before.tables if t.table == "newsletter")
    assert newsletter.rows == 1 and newsletter.marks == {"withdrawal": 0, "objection": 0}
    case = drive_to_work(committed, site, officer, "withdraw_consent")
    plan = plans.current(case)
    assert plan.body["notices"]  # told of what it changed, as an erasure would be
    approve(committed, case, officer)
    after = find_subject(site, {"email": SUBJECT.email})[0]
    newsletter = next(t for t in after.tables if t.table == "newsletter")
    assert newsletter.rows == 1 and newsletter.marks["withdrawal"] == 1
    assert next(t for t in after.tables if t.table == "leads").rows == 2  # untouched
    (stamp,) = rows(
        world,
        "smart-site-website.sqlite3",
        "SELECT unsubscribed_at FROM newsletter WHERE lower(email) = ?",
        SUBJECT.email,
    )[0]
    assert stamp and stamp.startswith(str(case.changes.get().finished_at.year))
    others = rows(
        world,
        "smart-site-website.sqlite3",
        "SELECT count(*) FROM newsletter WHERE unsubscribed_at IS NOT NULL",
    )[0][0]
    assert others == 1
    finish(committed, case, officer)
    hosting = case.notices.get(recipient__startswith="diensten van derden")
    assert hosting.status == NoticeStatus.SENT and hosting.mail.to == "privacy@hosting.example"


def test_restriction_marks_the_rows_and_is_lifted_only_after_the_subject_was_told(
    world, committed, mailoutbox, settings
):
    from django.utils import timezone

    from fulfilment.changes import execute

    controller, officer = world["controllers"]["contractstatus"], world["officer"]
    case = drive_to_work(committed, controller, officer, "restriction")
    approve(committed, case, officer)
    assert counts(controller)  # reachable
    marks = find_subject(controller, {"email": SUBJECT.email})[0]
    customers = next(t for t in marks.tables if t.table == "customers")
    assert customers.marks["restricted"] == customers.rows == 1
    finish(committed, case, officer)
    case.refresh_from_db()
    # Lifting: a plan of its own, approved by the step that tells the subject.
    actor = Actor.officer(officer)
    with pytest.raises(ValidationError, match="Make the plan first"):
        perform(case, "lift_restriction", actor=actor, plan="0" * 64, reason="x")
    lift = committed(plans.make, case, actor=actor, purpose=plans.LIFT)
    mailoutbox.clear()
    committed(
        perform,
        case,
        "lift_restriction",
        actor=actor,
        plan=lift.sha256,
        reason="The accuracy of your address has been checked.",
    )
    told = [m for m in mailoutbox if m.to == [SUBJECT.email]]
    assert len(told) == 1 and "will be lifted" in told[0].subject
    assert "accuracy of your address" in told[0].body
    change = lift.changes.get()
    assert change.status == ChangeStatus.PENDING
    days = settings.RESTRICTION_LIFT_NOTICE_DAYS
    assert change.next_attempt_at > timezone.now() + dt.timedelta(days=days - 1)
    # Not before its day: the sweep leaves it, a worker that is handed it does nothing.
    assert execute.sweep() == 0
    committed(execute.run, change.pk)
    customers = next(
        t
        for t in find_subject(controller, {"email": SUBJECT.email})[0].tables
        if t.table == "customers"
    )
    assert customers.marks["restricted"] == 1
    execute.sweep(timezone.now() + dt.timedelta(days=days))
    from fulfilment.models import Change

    Change.objects.filter(pk=change.pk).update(next_attempt_at=timezone.now())
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE, change.error
    customers = next(
        t
        for t in find_subject(controller, {"email": SUBJECT.email})[0].tables
        if t.table == "customers"
    )
    assert customers.marks["restricted"] == 0
    assert "system_changed" in actions(case)


def test_rectification_changes_only_approved_declared_fields_and_keeps_a_hash_of_the_old(
    world, committed
):
    import hashlib

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "rectification")
    assert not case.plans.exists()  # corrections come first
    actor = Actor.officer(officer)
    field = {"system": "klantenadministratie", "table": "klanten"}
    for column, value, message in [
        ("email", "x@example.org", "cannot be corrected"),  # an identity: not declared
        ("wachtwoord", "x", "cannot be corrected"),
        ("naam", "S. Jansen\x1b[2J", "control characters"),
        ("naam", "   ", "Give the corrected value"),
        ("naam", "x" * 501, "Give the corrected value"),
        ("naam", "Sanne\u202eseirV ed", "control characters"),  # a bidi override
        ("naam", "Sanne\u200b Jansen", "control characters"),  # a zero-width space
    ]:
        with pytest.raises(ValidationError, match=message):
            plans.add_correction(case, actor=actor, column=column, value=value, **field)
    assert not case.corrections.exists()
    plans.add_correction(case, actor=actor, column="naam", value="Sanne de Vries", **field)
    plan = committed(plans.make, case, actor=actor)
    assert plan.body["corrections"] == [{**field, "column": "naam", "value": "Sanne de Vries"}]
    approve(committed, case, officer)
    (name,) = rows(
        world,
        "defero-klanten.sqlite3",
        "SELECT naam FROM klanten WHERE lower(email) = ?",
        SUBJECT.email,
    )[0]
    assert name == "Sanne de Vries"
    event = CaseEvent.objects.get(case=case, action="system_changed")
    old = hashlib.sha256(SUBJECT.name.encode()).hexdigest()
    assert event.data["before_sha256"] == {"klanten.naam": [old]}
    # The old value is nowhere in the record in clear.
    for data in CaseEvent.objects.filter(case=case).values_list("data", flat=True):
        assert SUBJECT.name not in str(data)


def test_an_objection_to_direct_marketing_cannot_be_refused_on_compelling_grounds(world, committed):
    from cases.models import RefusalGround

    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    case = drive_to_work(committed, smartphoto, officer, "objection")
    plan = plans.current(case)
    accounts = next(t for t in plan.body["systems"][0]["tables"] if t["table"] == "accounts")
    assert accounts["marketing"] and accounts["rows"] == 1
    with pytest.raises(ValidationError, match="absolute"):
        perform(
            case,
            "refuse",
            actor=Actor.officer(officer),
            ground=RefusalGround.COMPELLING_GROUNDS,
            reason="We have our reasons.",
        )
    approve(committed, case, officer)
    (flag,) = rows(
        world,
        "smartphoto-webshop.sqlite3",
        "SELECT newsletter FROM accounts WHERE lower(email) = ?",
        SUBJECT.email,
    )[0]
    assert flag == 0


def test_an_erasure_at_smartlockr_asks_its_processor_which_deletes(world, committed):

    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    maillog = "processor-smartlockr-maillog.sqlite3"
    query = "SELECT count(*) FROM deliveries WHERE lower(recipient) = ?"
    assert rows(world, maillog, query, SUBJECT.email)[0][0] > 0
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    approve(committed, case, officer)
    remote = case.changes.get(kind="http")
    poll_until_settled(committed, remote)
    assert remote.status == ChangeStatus.DONE, remote.error
    assert rows(world, maillog, query, SUBJECT.email)[0][0] == 0
    assert rows(world, maillog, "SELECT count(*) FROM deliveries")[0][0] > 0
    notice = case.notices.get(recipient="verwerkers")
    assert notice.channel == "system" and notice.status == NoticeStatus.SENT


# --- Safety: nothing runs without the approved plan, never twice, never on what changed.


def _approved_not_run(case, officer, monkeypatch):
    """Approve the plan with the changes left for the test to run (no worker picks them)."""
    from fulfilment.changes import execute

    monkeypatch.setattr(execute.CHANGES, "enqueue", lambda pk: None)
    plan = plans.current(case)
    perform(case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)
    return plan


def test_a_second_run_changes_nothing_more_and_reports_the_same_counts(
    world, committed, monkeypatch
):
    from fulfilment.changes import execute
    from fulfilment.models import Change
    from fulfilment.systems.connectors import sqlchange
    from fulfilment.systems.connectors.base import files_root

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    plan = _approved_not_run(case, officer, monkeypatch)
    change = case.changes.get(system_name="klantenadministratie")
    # A worker that committed the change and died before recording it: the next run finds
    # nothing left to change, verifies, and records the plan's counts.
    system = change.system
    entry = plan.body["systems"][0]
    changes = {t["table"]: t for t in entry["tables"]}
    from controllers.systems import spec_of

    sqlchange.apply(
        spec_of(system.spec),
        {"email": SUBJECT.email},
        changes,
        now=plan.made_at,
        key=execute.pseudonym_key(defero),
    )
    assert files_root(spec_of(system.spec)) is None
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE, change.error
    assert change.counts == {"klanten": 1, "contactmomenten": 2, "nieuwsbrief": 1}
    events = CaseEvent.objects.filter(case=case).count()
    # Delivered again (a double click, a task redelivered): nothing happens, nothing is recorded.
    Change.objects.filter(pk=change.pk).update(next_attempt_at=None)
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE and change.attempts == 1
    assert CaseEvent.objects.filter(case=case).count() == events


def test_rows_that_appeared_after_the_plan_stop_the_change_until_it_is_planned_again(
    world, committed, monkeypatch
):
    from fulfilment.changes import execute

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    _approved_not_run(case, officer, monkeypatch)
    db = sqlite3.connect(world["folder"] / "defero-klanten.sqlite3")
    with db:
        db.execute(
            "INSERT INTO contactmomenten (klant_id, datum, kanaal, samenvatting) "
            "SELECT id, '2026-11-23', 'chat', 'Nog een vraag.' FROM klanten WHERE email = ?",
            (SUBJECT.email,),
        )
    db.close()
    before = counts(defero)
    change = case.changes.get(system_name="klantenadministratie")
    committed(execute.run, change.pk)
    change.refresh_from_db()
    # Not stretched, and not retried (the rows stay): it fails until the plan is made again.
    assert change.status == ChangeStatus.FAILED
    assert "contactmomenten: 3 rows hold the subject now" in change.error
    assert counts(defero) == before  # one transaction: nothing of it happened


def test_a_declaration_changed_after_approval_fails_the_change_for_good(
    world, committed, monkeypatch, mailoutbox
):
    from fulfilment.changes import execute

    defero, officer = world["controllers"]["defero"], world["officer"]
    officer.email = "officer@defero.example"
    officer.save()
    case = drive_to_work(committed, defero, officer, "erasure")
    _approved_not_run(case, officer, monkeypatch)
    change = case.changes.get(system_name="klantenadministratie")
    system = change.system
    # Its wording may change (a new title): what it does may not.
    system.spec = {**system.spec, "title": "Renamed", "timeout_seconds": 5}
    system.save()
    before = counts(defero)
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.FAILED
    assert "changed since the plan was approved" in change.error
    assert counts(defero) == before
    assert "change_failed" in actions(case)
    assert any("Change failed" in m.subject for m in mailoutbox)


def test_only_an_officer_of_the_controller_approves_and_auditors_see_no_button(
    world, committed, django_user_model
):
    from django.core.exceptions import PermissionDenied
    from django.urls import reverse

    from controllers.models import Membership, Role

    from .demo_world import officer_client

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    plan = plans.current(case)
    with pytest.raises(PermissionDenied):
        perform(case, "approve_plan", actor=Actor.officer(world["auditor"]), plan=plan.sha256)
    stranger = django_user_model.objects.create_user("stranger", password="x", is_staff=True)
    Membership.objects.create(
        user=stranger, controller=world["controllers"]["smartphoto"], role=Role.OFFICER
    )
    client = officer_client(stranger)
    assert client.post(reverse("fulfilment_plan", args=[case.pk])).status_code == 404
    assert client.get(reverse("admin:dsar_case_change", args=[case.pk])).status_code in (302, 404)
    page = officer_client(world["auditor"]).get(reverse("admin:dsar_case_change", args=[case.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert plan.sha256 in html and "Approve this plan" not in html
    assert "Make the plan again" not in html
    assert plans.current(case).status == PlanStatus.DRAFT


def test_the_officer_reviews_and_approves_the_plan_in_the_case_file(world, committed):
    from django.urls import reverse

    from .demo_world import officer_client

    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "erasure")
    client = officer_client(officer)
    page = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    plan = plans.current(case)
    assert "Contactformulier: <strong>delete</strong> 2" in page
    assert "Google (Google Analytics)" not in page  # notices are listed once approved
    approve_url = reverse("admin:dsar_case_step", args=[case.pk, "approve_plan"])
    assert f'{approve_url}?plan={plan.sha256}"' in page
    form = client.get(f"{approve_url}?plan={plan.sha256}").content.decode()
    assert f"{plan.sha256}</textarea>" in form
    # A plan made again meanwhile: the old hash is refused, nothing runs.
    newer = committed(plans.make, case, actor=Actor.officer(officer))
    response = committed(client.post, approve_url, {"plan": plan.sha256})
    assert response.status_code == 400 and "review it again" in response.content.decode()
    assert not case.changes.exists()
    response = committed(client.post, approve_url, {"plan": newer.sha256})
    assert response.status_code == 302
    assert case.changes.get().status == ChangeStatus.DONE
    page = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert "Deleted: leads 2" in page and "searched again" in page
    assert "Google (Google Analytics)" in page
    assert "privacy@hosting.example" in page


def test_a_right_the_systems_declare_nothing_for_is_approved_as_nothing_and_answered(
    world, committed, mailoutbox
):
    """Smartlockr's systems declare no withdrawal of consent: the plan changes nothing (its
    counts show what stays), approving it records that, and the case is answered, never stuck
    waiting for a change; the letter claims nothing that was not done."""
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    case = drive_to_work(committed, smartlockr, officer, "withdraw_consent")
    plan = plans.current(case)
    (platform,) = plan.body["systems"]
    assert {t["table"]: (t["op"], t["rows"]) for t in platform["tables"]} == {
        "users": ("none", 1),
        "invoices": ("none", 2),
    }
    approve(committed, case, officer)
    assert not case.changes.exists()
    # Nothing changed: nobody is told, and nobody waits for the officer.
    assert {n.status for n in case.notices.all()} == {NoticeStatus.UNREACHABLE}
    finish(committed, case, officer)
    case.refresh_from_db()
    assert case.state == State.COMPLETED
    letter = next(m for m in mailoutbox if "What was done" in m.subject)
    assert "has handled your request as follows" in letter.body
    assert "3 records about you are not concerned and stay as they are" in letter.body
    assert "acted on the withdrawal" not in letter.body


# --- Faults found by a hostile review, each as its own test.


def test_a_request_withdrawn_after_approval_changes_nothing(world, committed, monkeypatch):
    from fulfilment.changes import execute

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    _approved_not_run(case, officer, monkeypatch)
    before = counts(defero)
    change = case.changes.get(system_name="klantenadministratie")
    committed(perform, case, "withdraw", actor=Actor.subject())
    change.refresh_from_db()
    assert change.status == ChangeStatus.SKIPPED  # cancelled with the request
    assert "change_cancelled" in actions(case)
    committed(execute.run, change.pk)  # a task delivered late
    assert counts(defero) == before
    # And one that was not cancelled (a worker held it) refuses once it runs.
    from fulfilment.models import Change

    Change.objects.filter(pk=change.pk).update(status=ChangeStatus.PENDING)
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.FAILED
    assert "nothing was changed" in change.error
    assert counts(defero) == before


def test_a_change_is_not_skipped_while_it_runs_and_one_that_ran_is_recorded(
    world, committed, monkeypatch
):
    from fulfilment.changes import execute
    from fulfilment.models import Change

    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "erasure")
    _approved_not_run(case, officer, monkeypatch)
    change = case.changes.get()
    Change.objects.filter(pk=change.pk).update(status=ChangeStatus.RUNNING)
    with pytest.raises(ValidationError, match="running in the system now"):
        execute.skip(change, actor=Actor.officer(officer), reason="Not needed.")
    # Skipped (by a path that did not see the worker) while the worker changed the system:
    # the record says what happened.
    Change.objects.filter(pk=change.pk).update(status=ChangeStatus.SKIPPED)
    committed(execute.finish, change.pk, counts={"leads": 2}, files=0, warnings=[], extra={})
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE
    assert CaseEvent.objects.get(case=case, action="system_changed").data["after_skip"] is True


def test_when_every_change_is_skipped_the_letter_and_the_recipients_hear_no_erasure(
    world, committed, monkeypatch, mailoutbox
):
    from fulfilment.changes import execute

    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "erasure")
    _approved_not_run(case, officer, monkeypatch)
    mailoutbox.clear()
    committed(
        execute.skip,
        case.changes.get(),
        actor=Actor.officer(officer),
        reason="Kept for a court case (Art. 17(3)(e)).",
    )
    assert not [m for m in mailoutbox if m.to == ["privacy@hosting.example"]]
    notice = case.notices.get(recipient__startswith="diensten van derden")
    assert notice.status == NoticeStatus.UNREACHABLE and "no system changed" in notice.reason
    finish(committed, case, officer)
    letter = next(m for m in mailoutbox if "What was done" in m.subject)
    assert "has handled your request as follows" in letter.body
    assert "erased your personal data" not in letter.body
    assert "not told, because none of our systems changed" in letter.body
    assert "not changed. Reason: Kept for a court case" in letter.body


def test_a_plan_made_before_the_systems_file_changed_is_not_approved(world, committed):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    plan = plans.current(case)
    system = defero.systems.get(name="klantenadministratie")
    system.spec = {**system.spec, "description": "Reworded."}  # wording: still the same plan
    system.save()
    assert plans.stale(case, plan.body) == []
    tables = [dict(t) for t in system.spec["tables"]]
    tables[1]["erasure"] = "keep"
    tables[1]["keep_ground"] = "Art. 17(3)(e)"
    system.spec = {**system.spec, "tables": tables}
    system.save()
    with pytest.raises(ValidationError, match="systems file changed since this plan was made"):
        perform(case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)
    assert not case.changes.exists()


def test_a_manual_system_is_asked_for_every_right(world, committed, mailoutbox):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "rectification")
    plans.add_correction(
        case,
        actor=Actor.officer(officer),
        system="klantenadministratie",
        table="klanten",
        column="adres",
        value="Oudegracht 1, 3511 AA Utrecht",
    )
    plan = committed(plans.make, case, actor=Actor.officer(officer))
    manual = next(s for s in plan.body["systems"] if s["kind"] == "manual")
    assert manual["task"] == "rectification"
    mailoutbox.clear()
    approve(committed, case, officer)
    task = next(m for m in mailoutbox if m.to == ["boekhouding@defero.example"])
    assert "Oudegracht 1, 3511 AA Utrecht" in task.body


def test_an_objection_is_not_refused_on_compelling_grounds_before_its_plan_shows_no_marketing(
    world, committed, monkeypatch
):
    from cases.models import RefusalGround

    monkeypatch.setattr(plans, "plan_soon", lambda pk: None)  # the broker is down, say
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "objection")
    assert plans.current(case) is None
    with pytest.raises(ValidationError, match="absolute"):
        perform(
            case,
            "refuse",
            actor=Actor.officer(officer),
            ground=RefusalGround.COMPELLING_GROUNDS,
            reason="x",
        )


def test_an_answer_is_recorded_only_for_a_notice_that_was_sent(world, committed):
    from fulfilment.changes import execute

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    unreachable = case.notices.get(recipient="derden")
    with pytest.raises(ValidationError, match="Only a notice that was sent"):
        execute.record_answer(unreachable, actor=Actor.officer(officer), answer="Done.")


def test_a_link_prefills_only_the_plan_s_hash(world, committed):
    from django.urls import reverse

    from .demo_world import officer_client

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    client = officer_client(officer)
    url = reverse("admin:dsar_case_step", args=[case.pk, "prepare_response"])
    page = client.get(f"{url}?response=Pay+us+first").content.decode()
    assert "Pay us first" not in page


def test_erased_photos_go_even_when_the_first_try_could_not_delete_them(
    world, committed, monkeypatch
):
    """The files the change will remove are kept with the change before the system's
    commit: a try that fails after it (an unlink refused, a worker killed) leaves them listed,
    and the next try removes them and verifies they are gone."""
    from fulfilment.changes import execute
    from fulfilment.systems.connectors import sqlchange

    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    case = drive_to_work(committed, smartphoto, officer, "erasure")
    _approved_not_run(case, officer, monkeypatch)
    change = case.changes.get()
    real = sqlchange.remove_files
    monkeypatch.setattr(sqlchange, "remove_files", lambda root, files: (0, ["refused"]))
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.PENDING
    assert "file(s) are still there" in change.error
    photos = [world["folder"] / "smartphoto-photos" / f for f in change.files]
    assert photos and all(p.exists() for p in photos)
    assert counts(smartphoto)["webshop"]["accounts"] == 0  # the rows went in the first try
    monkeypatch.setattr(sqlchange, "remove_files", real)
    from fulfilment.models import Change

    Change.objects.filter(pk=change.pk).update(next_attempt_at=None)
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE, change.error
    assert not any(p.exists() for p in photos)
    assert change.files_deleted == len(photos)
