"""What the record, the officer's panel, the case report and the letters say about the changes
made in the systems (issue 20, part 2): each outcome says what it is, by kind of system (an SQL
system searched again, a manual task confirmed by whom and when, a processor's report, data kept
under a ground); a plan made stale by a new correction is not approved; an approved plan whose
change was blocked is replaced by a new plan and a new approval, with everything that happened
under both in the record and the letter; recipients are told only of what was changed."""

from __future__ import annotations

import datetime as dt
import html
import sqlite3
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import formats, timezone, translation

from cases import events
from cases.actors import Actor
from cases.models import CaseEvent, State
from cases.workflow import perform
from fulfilment import report
from fulfilment.changes import completion, execute, plans
from fulfilment.models import Change, ChangeStatus, NoticeStatus, PlanStatus

from .demo_world import (
    SUBJECT,
    actions,
    drive_to_work,
    nothing_disclosed,
    officer_client,
    poll_until_settled,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

ZONE = "Europe/Amsterdam"
BOOKKEEPER = "Financiële administratie (boekhouder)"
NOTE = "Boekhouder bevestigt per mail: facturen gemarkeerd als beperkt."


def said(event: CaseEvent, language: str) -> str:
    """The event as the timeline and the case report read it, in ``language``."""
    with translation.override(language):
        return " | ".join(events.describe(event, tz=ZONE))


def reported(case, language: str = "en") -> str:
    """The fulfilment sections of the auditor's case report, as text."""
    with translation.override(language):
        return "\n".join(line for _title, lines in report.sections(case) for line in lines)


def panel(world, case, language: str = "en") -> str:
    client = officer_client(world["officer"])
    client.cookies["django_language"] = language
    with translation.override(translation.get_language()):  # the request switches it
        page = client.get(reverse("admin:dsar_case_change", args=[case.pk]))
    return html.unescape(page.content.decode())


def letter(case, language: str) -> str:
    """The completion letter as it would be written in ``language``."""
    case.language = language
    return "\n\n".join(completion.paragraphs(case, plans.current(case)))


def changed_event(case, system: str) -> CaseEvent:
    return next(
        e
        for e in CaseEvent.objects.filter(case=case, action="system_changed").order_by("seq")
        if e.data.get("system") == system
    )


def approve(committed, case, officer):
    plan = plans.current(case)
    assert plan is not None and plan.status == PlanStatus.DRAFT
    return committed(perform, case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)


def confirm(committed, case, officer, *, found: bool = True, note: str = NOTE) -> Change:
    manual = case.changes.get(kind="manual", status=ChangeStatus.MANUAL)
    committed(
        execute.confirm_manual, manual, actor=Actor.officer(officer), note_text=note, found=found
    )
    manual.refresh_from_db()
    return manual


def finish(committed, case, officer) -> None:
    actor = Actor.officer(officer)
    # The recipients that receive data only on occasion: the officer checked the register.
    nothing_disclosed(committed, case, officer)
    case = committed(perform, case, "prepare_response", actor=actor, response="Done.")
    committed(perform, case, "complete", actor=actor)


def date_in(language: str, value: dt.date | dt.datetime, fmt: str = "DATE_FORMAT") -> str:
    with translation.override(language):
        return formats.date_format(value, fmt)


# --- 1. Each outcome says what it is.


def test_a_kept_manual_task_reads_as_kept_and_confirmed_by_whom_never_as_searched_or_erased(
    world, committed, mailoutbox
):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    entry = next(s for s in plans.current(case).body["systems"] if s["kind"] == "manual")
    until = dt.date.fromisoformat(entry["keep_until"])
    manual = confirm(committed, case, officer)
    event = changed_event(case, BOOKKEEPER)
    english, dutch = said(event, "en"), said(event, "nl")
    assert f"Kept under {entry['keep_ground']} until {date_in('en', until)}" in english
    assert "restricted by its owner, as confirmed by officer on" in english
    assert NOTE in english
    assert f"Bewaard op grond van {entry['keep_ground']} tot {date_in('nl', until)}" in dutch
    assert "door de eigenaar beperkt, zoals bevestigd door officer op" in dutch
    for wrong in ("Records", "nothing found", "Verified", "searched again", "erased", "Deleted"):
        assert wrong not in english
    for wrong in ("niets gevonden", "Gecontroleerd", "opnieuw gezocht", "gewist", "Verwijderd"):
        assert wrong not in dutch
    # The case report and the officer's panel say the same, never "done and verified".
    text = reported(case)
    line = next(x for x in text.splitlines() if x.startswith(BOOKKEEPER) and "confirmed" in x)
    assert "Kept under" in line and "confirmed by officer" in line and "nothing found" not in line
    assert "done and verified" not in text
    page = panel(world, case)
    assert "confirmed by officer" in page and "done and verified" not in page
    assert "bevestigd door officer" in panel(world, case, "nl")
    # And the letter: kept and restricted, confirmed on that day; never "deleted".
    finish(committed, case, officer)
    day = date_in("en", timezone.localtime(manual.finished_at, ZoneInfo(defero.time_zone)).date())
    english = letter(case, "en")
    assert f"Kept and restricted by the department that keeps it (confirmed on {day})" in english
    assert "Deleted by the department" not in english
    dutch = letter(case, "nl")
    assert "Bewaard en beperkt door de afdeling die het bijhoudt (bevestigd op" in dutch


def test_a_processor_s_change_reads_as_reported_completed_with_its_answer(world, committed):
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    approve(committed, case, officer)
    remote = case.changes.get(kind="http")
    poll_until_settled(committed, remote)
    assert remote.status == ChangeStatus.DONE, remote.error
    event = changed_event(case, remote.system_title)
    english, dutch = said(event, "en"), said(event, "nl")
    assert "The processor reported the request completed on" in english
    assert "request_status: completed" in english  # what it answered
    assert "De verwerker meldde het verzoek afgerond op" in dutch
    for wrong in ("Records", "nothing found", "Verified", "searched again"):
        assert wrong not in english
    for wrong in ("niets gevonden", "Gecontroleerd"):
        assert wrong not in dutch
    line = next(x for x in reported(case).splitlines() if "reported the request" in x)
    assert line.startswith(remote.system_title) and "nothing found" not in line
    assert "done" in line and "verified" not in line
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "Our processor was asked to act on your request and reported it completed on" in english
    assert "confirmed it" not in english
    assert "Onze verwerker is gevraagd uw verzoek uit te voeren en heeft op" in letter(case, "nl")


def test_an_sql_change_reads_as_what_was_deleted_and_searched_again(world, committed):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    event = changed_event(case, "Klantenadministratie")
    english, dutch = said(event, "en"), said(event, "nl")
    assert "Deleted: klanten 1, contactmomenten 2, nieuwsbrief 1" in english
    assert "Verified: searched again, nothing planned is left" in english
    assert "Verwijderd: klanten 1, contactmomenten 2, nieuwsbrief 1" in dutch
    assert "opnieuw gezocht" in dutch
    line = next(x for x in reported(case).splitlines() if "searched again" in x)
    assert line.startswith("Klantenadministratie:") and "Deleted: klanten 1" in line


def test_events_already_recorded_are_read_without_claiming_what_they_do_not_say():
    """Events of the earlier shape (in databases already): a manual task's and a processor's
    held an empty count and "verified"; they are read as what they record and no more."""

    def old(**data) -> CaseEvent:
        return CaseEvent(
            action="system_changed", data={"system": "X", "purpose": "erasure", **data}
        )

    manual = old(rows={}, files=0, verified=True, confirmed="Bookkeeper confirmed by mail.")
    processor = old(rows={}, files=0, verified=True, processor="completed")
    sql = old(rows={"klanten": 1}, files=0, verified=True)
    for language in ("en", "nl"):
        for event in (manual, processor):
            text = said(event, language)
            for wrong in ("nothing found", "niets gevonden", "Verified", "Gecontroleerd"):
                assert wrong not in text
            assert "0 files" not in text and "0 bestanden" not in text
    assert "Confirmed: Bookkeeper confirmed by mail." in said(manual, "en")
    assert "The processor reports: completed" in said(processor, "en")
    # An SQL change was searched again: that stays said.
    assert "Verified: searched again, nothing planned is left" in said(sql, "en")
    assert "klanten: 1" in said(sql, "en")


# --- 2. A change of the corrections makes the plan stale.


def test_a_correction_entered_after_the_plan_was_made_makes_it_stale(world, committed):
    defero, officer = world["controllers"]["defero"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, defero, officer, "rectification")
    field = {"system": "klantenadministratie", "table": "klanten"}
    plans.add_correction(case, actor=actor, column="naam", value="Sanne de Vries", **field)
    plan = committed(plans.make, case, actor=actor)
    plans.add_correction(case, actor=actor, column="adres", value="Oudegracht 1, Utrecht", **field)
    assert "The corrections changed since this plan was made" in panel(world, case)
    assert "De correcties zijn gewijzigd sinds dit plan werd gemaakt" in panel(world, case, "nl")
    with pytest.raises(ValidationError, match="corrections changed since this plan was made"):
        perform(case, "approve_plan", actor=actor, plan=plan.sha256)
    with translation.override("nl"), pytest.raises(ValidationError, match="correcties"):
        perform(case, "approve_plan", actor=actor, plan=plan.sha256)
    assert not case.changes.exists()
    # A changed value is a change of the corrections too.
    plan = committed(plans.make, case, actor=actor)
    plans.add_correction(case, actor=actor, column="naam", value="Sanne van Dijk", **field)
    with pytest.raises(ValidationError, match="corrections changed"):
        perform(case, "approve_plan", actor=actor, plan=plan.sha256)
    plan = committed(plans.make, case, actor=actor)
    assert "The corrections changed" not in panel(world, case)
    approve(committed, case, officer)
    db = sqlite3.connect(world["folder"] / "defero-klanten.sqlite3")
    try:
        row = db.execute(
            "SELECT naam, adres FROM klanten WHERE lower(email) = ?", (SUBJECT.email,)
        ).fetchone()
    finally:
        db.close()
    assert row == ("Sanne van Dijk", "Oudegracht 1, Utrecht")


# --- 3. A stale approved plan is replaced by a new plan and a new approval.


def _approved_not_run(case, officer, monkeypatch):
    monkeypatch.setattr(execute.CHANGES, "enqueue", lambda pk: None)
    plan = plans.current(case)
    perform(case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)
    return plan


def test_a_change_blocked_by_new_rows_is_recorded_and_its_plan_replaced_and_approved_again(
    world, committed, monkeypatch, mailoutbox
):
    defero, officer = world["controllers"]["defero"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, defero, officer, "erasure")
    first = _approved_not_run(case, officer, monkeypatch)
    # The bookkeeper confirms first: that is done, and stays done.
    confirm(committed, case, officer)
    db = sqlite3.connect(world["folder"] / "defero-klanten.sqlite3")
    with db:
        db.execute(
            "INSERT INTO contactmomenten (klant_id, datum, kanaal, samenvatting) "
            "SELECT id, '2026-11-23', 'chat', 'Nog een vraag.' FROM klanten WHERE email = ?",
            (SUBJECT.email,),
        )
    db.close()
    blocked = case.changes.get(system_name="klantenadministratie")
    committed(execute.run, blocked.pk)
    blocked.refresh_from_db()
    assert blocked.status == ChangeStatus.FAILED  # retrying cannot help: plan again
    event = CaseEvent.objects.get(case=case, action="change_blocked")
    assert event.data["found_now"] == {"contactmomenten": 3}
    assert event.data["planned"] == {"contactmomenten": 2}
    assert "contactmomenten: 3 rows hold the subject now, the approved plan counted 2" in said(
        event, "en"
    )
    assert "contactmomenten: 3 rijen horen nu bij de betrokkene, het goedgekeurde plan telde 2" in (
        said(event, "nl")
    )
    assert "Make the plan again (dry run)" in panel(world, case)
    # The plan is made again (it was "approved already" before), by a dry run.
    second = committed(plans.make, case, actor=actor)
    first.refresh_from_db()
    blocked.refresh_from_db()
    assert first.status == PlanStatus.SUPERSEDED and second.status == PlanStatus.DRAFT
    assert second.body["replaces"] == first.sha256
    assert blocked.status == ChangeStatus.SUPERSEDED
    assert "change_superseded" in actions(case)
    made = CaseEvent.objects.filter(case=case, action="plan_made").order_by("-seq").first()
    assert made.data["replaces"] == first.sha256
    systems = {s["system"]: s for s in second.body["systems"]}
    counted = {t["table"]: t["rows"] for t in systems["klantenadministratie"]["tables"]}
    assert counted["contactmomenten"] == 3
    # The bookkeeper's confirmation under the first plan carries over: not asked twice.
    assert systems["financiele-administratie"]["done_under"] == first.sha256
    # The first plan's notices were never sent: they say why.
    for notice in first.notices.all():
        assert notice.status == NoticeStatus.UNREACHABLE and notice.reason
    mailoutbox.clear()
    # Approved by the same step, with its own hash; the superseded change never runs.
    approve(committed, case, officer)
    assert not any(m.to == ["boekhouding@defero.example"] for m in mailoutbox)
    committed(execute.run, blocked.pk)
    blocked.refresh_from_db()
    assert blocked.status == ChangeStatus.SUPERSEDED
    again = second.changes.get()
    assert again.system_name == "klantenadministratie"
    committed(execute.run, again.pk)
    again.refresh_from_db()
    assert again.status == ChangeStatus.DONE, again.error
    assert again.counts["contactmomenten"] == 3
    assert CaseEvent.objects.filter(case=case, action="approve_plan").count() == 2
    assert CaseEvent.objects.filter(case=case, action="approve_plan").last().data["plan"] == (
        second.sha256
    )
    notices = {n.recipient: n for n in second.notices.all()}
    assert notices["verwerkers"].status == NoticeStatus.SENT
    finish(committed, case, officer)
    case.refresh_from_db()
    assert case.state == State.COMPLETED
    text = letter(case, "en")
    assert "3 records of Contactmomenten deleted" in text
    assert "Kept and restricted by the department that keeps it" in text
    # The report shows both plans, and what became of each change.
    text = reported(case)
    assert first.sha256 in text and second.sha256 in text
    assert "replaced by a newer plan" in text


def test_what_the_first_plan_did_stays_in_the_letter_and_counts_for_the_recipients(
    world, committed, mailoutbox
):
    """The SQL system is erased under the first plan; the plan is replaced while the
    bookkeeper's task waits. Under the second plan the SQL system finds nothing left: the letter
    still says what the first erased, and the recipients are told."""
    defero, officer = world["controllers"]["defero"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    first = plans.current(case)
    assert case.changes.get(system_name="klantenadministratie").status == ChangeStatus.DONE
    waiting = case.changes.get(kind="manual")
    second = committed(plans.make, case, actor=actor)
    waiting.refresh_from_db()
    assert waiting.status == ChangeStatus.SUPERSEDED
    systems = {s["system"]: s for s in second.body["systems"]}
    assert "done_under" not in systems["financiele-administratie"]  # it was not done
    assert {t["rows"] for t in systems["klantenadministratie"]["tables"]} == {0}
    mailoutbox.clear()
    approve(committed, case, officer)
    assert any(m.to == ["boekhouding@defero.example"] for m in mailoutbox)  # asked again
    with pytest.raises(ValidationError, match="settled already"):
        execute.confirm_manual(waiting, actor=actor, note_text="x", found=True)
    confirm(committed, case, officer)
    notices = {n.recipient: n for n in plans.current(case).notices.all()}
    assert notices["verwerkers"].status == NoticeStatus.SENT
    # A plan whose changes are all settled is not replaced.
    with pytest.raises(ValidationError, match="settled"):
        plans.make(case, actor=actor)
    finish(committed, case, officer)
    text = letter(case, "en")
    assert "1 record of Klanten deleted" in text
    assert "2 records of Contactmomenten deleted" in text
    assert "Nothing about you was found here" not in text
    assert first.sha256 in reported(case)


def test_an_approved_plan_is_not_replaced_while_a_change_runs(world, committed, monkeypatch):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    _approved_not_run(case, officer, monkeypatch)
    running = case.changes.get(system_name="klantenadministratie")
    Change.objects.filter(pk=running.pk).update(status=ChangeStatus.RUNNING)
    with pytest.raises(ValidationError, match="running in a system now"):
        plans.make(case, actor=Actor.officer(officer))
    assert plans.current(case).status == PlanStatus.APPROVED


def test_a_plan_approved_while_it_was_made_again_is_not_replaced_unseen(
    world, committed, monkeypatch
):
    defero, officer = world["controllers"]["defero"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, defero, officer, "erasure")
    monkeypatch.setattr(execute.CHANGES, "enqueue", lambda pk: None)
    draft = plans.current(case)
    counted = plans.body_for

    def approved_meanwhile(*args, **kwargs):
        body = counted(*args, **kwargs)
        perform(case, "approve_plan", actor=actor, plan=draft.sha256)  # another officer
        return body

    monkeypatch.setattr(plans, "body_for", approved_meanwhile)
    with pytest.raises(ValidationError, match="approved meanwhile"):
        plans.make(case, actor=actor)
    assert plans.current(case) == draft
    assert not case.changes.filter(status=ChangeStatus.SUPERSEDED).exists()


def test_a_lifting_not_yet_run_can_be_planned_again_and_the_subject_is_told_again(
    world, committed, mailoutbox
):
    controller, officer = world["controllers"]["contractstatus"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, controller, officer, "restriction")
    approve(committed, case, officer)
    finish(committed, case, officer)
    case.refresh_from_db()
    lift = committed(plans.make, case, actor=actor, purpose=plans.LIFT)
    committed(perform, case, "lift_restriction", actor=actor, plan=lift.sha256, reason="Checked.")
    waiting = lift.changes.get()
    again = committed(plans.make, case, actor=actor, purpose=plans.LIFT)
    waiting.refresh_from_db()
    assert waiting.status == ChangeStatus.SUPERSEDED and again.body["replaces"] == lift.sha256
    mailoutbox.clear()
    case.refresh_from_db()
    committed(perform, case, "lift_restriction", actor=actor, plan=again.sha256, reason="Checked.")
    assert [m for m in mailoutbox if m.to == [SUBJECT.email]]
    assert again.changes.get().status == ChangeStatus.PENDING


def test_a_settled_plan_is_not_called_outdated_after_the_systems_file_changes(world, committed):
    """A plan whose every change is done is the record of what was done, and is not made again:
    an edit of the systems file afterwards does not make the panel ask for that (a draft plan
    is still said outdated)."""
    site, officer = world["controllers"]["smart-site"], world["officer"]
    stale = "The systems file changed since this plan was made"
    case = drive_to_work(committed, site, officer, "withdraw_consent")

    def edit_file() -> None:
        system = site.systems.get(name="website")
        tables = [dict(t) for t in system.spec["tables"]]
        tables[0]["keep_years"] = (tables[0].get("keep_years") or 0) + 1
        system.spec = {**system.spec, "tables": tables}
        system.save()

    approve(committed, case, officer)
    assert all(e.status == ChangeStatus.DONE for e in case.changes.all())
    assert plans.replace_refusal(plans.current(case))  # settled: not made again
    edit_file()
    assert plans.outdated(case, plans.current(case))  # the file did change
    assert stale not in panel(world, case)
    draft = drive_to_work(committed, site, officer, "withdraw_consent", email="ann@example.net")
    edit_file()
    assert stale in panel(world, draft)


# --- 4. Recipients are told only of what was done to this subject's data.


def _erase_all(committed, controller, officer):
    case = drive_to_work(committed, controller, officer, "erasure")
    approve(committed, case, officer)
    for remote in case.changes.filter(kind="http"):
        poll_until_settled(committed, remote)
    if case.changes.filter(status=ChangeStatus.MANUAL).exists():
        confirm(committed, case, officer)
    finish(committed, case, officer)
    return case


def test_an_erasure_run_again_that_found_nothing_tells_no_recipient_and_says_why(
    world, committed, mailoutbox
):
    defero, officer = world["controllers"]["defero"], world["officer"]
    _erase_all(committed, defero, officer)
    assert any(m.to == ["privacy@boekhouder.example"] for m in mailoutbox)
    mailoutbox.clear()
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    # The invoices are still kept (and restricted): that deletes nothing.
    confirm(committed, case, officer, note="Facturen waren al beperkt.")
    assert not any(m.to == ["privacy@boekhouder.example"] for m in mailoutbox)
    notice = case.notices.get(recipient="verwerkers")
    assert notice.status == NoticeStatus.UNREACHABLE
    assert "changed" in notice.reason
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "has handled your request as follows" in english
    assert "erased your personal data" not in english
    assert "These recipients were not told, because none of our systems changed" in english
    assert "- verwerkers" in english
    dutch = letter(case, "nl")
    assert "Deze ontvangers zijn niet ingelicht, omdat geen van onze systemen" in dutch
    assert "- verwerkers" in dutch


def test_a_manual_owner_who_found_nothing_changed_nothing(world, committed, mailoutbox):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "restriction")
    approve(committed, case, officer)
    manual = case.changes.get(kind="manual")
    url = reverse("fulfilment_change_confirm", args=[manual.pk])
    client = officer_client(officer)
    assert "None of the subject's data was there" in html.unescape(client.get(url).content.decode())
    # The owner's answer is asked, never assumed.
    response = committed(client.post, url, {"note": "Niets gevonden in de boeken."})
    assert response.status_code == 400
    response = committed(
        client.post, url, {"note": "Niets gevonden in de boeken.", "outcome": "nothing"}
    )
    assert response.status_code == 302
    manual.refresh_from_db()
    text = said(changed_event(case, BOOKKEEPER), "en")
    assert "Its owner found none of the subject's data there" in text
    assert "confirmed by officer" in text
    assert manual.found is False
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "The department that keeps it found none of your data there" in english


def test_a_processor_reporting_completion_is_no_proof_that_it_erased_anything(
    world, committed, mailoutbox
):
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    _erase_all(committed, smartlockr, officer)
    case = _erase_all(committed, smartlockr, officer)  # again: nothing is left anywhere
    english = letter(case, "en")
    assert "has handled your request as follows" in english
    assert "erased your personal data" not in english
    # The processor was asked (its request is its notice), and said so.
    assert case.notices.get(recipient="verwerkers").status == NoticeStatus.SENT
