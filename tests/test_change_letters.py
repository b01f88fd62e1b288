"""The letters and the record of the rights that change data say what was done (issue 20,
part 3): a restriction covers every table that holds the subject, through its own flag or its
parent's, or says per table why it could not be marked; the subject is told they will hear
before it is lifted, the lifting reads "lift" and reaches the recipients told of the
restriction; an erasure marks what it keeps restricted in the same change; an objection or a
withdrawal says which processing stopped, never overwrites an opt-out already made, and says
since when; rows an erasure keeps but unlinks stay findable by a later access request, or are
said to identify nobody any more."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import sqlite3
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import formats, timezone, translation

from cases import events
from cases.actors import Actor
from cases.models import CaseEvent
from cases.workflow import perform
from controllers.models import System
from fulfilment import report
from fulfilment.changes import completion, execute, plans
from fulfilment.models import ChangeStatus, NoticeStatus, PlanStatus, Withholding
from fulfilment.searches import collect

from .demo_world import (
    SUBJECT,
    drive_to_work,
    nothing_disclosed,
    officer_client,
    poll_until_settled,
    respond,
    settle,
    unzip,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

ZONE = "Europe/Amsterdam"


def said(event: CaseEvent, language: str) -> str:
    with translation.override(language):
        return " | ".join(events.describe(event, tz=ZONE))


def letter(case, language: str) -> str:
    case.language = language
    return "\n\n".join(completion.paragraphs(case, plans.current(case)))


def panel(world, case, language: str = "en", *, part: str = "") -> str:
    """The case file's changes panel as text (``part``: from that heading to the panel's
    end)."""
    client = officer_client(world["officer"])
    client.cookies["django_language"] = language
    with translation.override(translation.get_language()):
        page = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    start = page.index('<section class="dsar-fulfilment dsar-changes"')
    page = page[start : page.index("</section>", start)]
    if part:
        page = page[page.index(part) :]
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def reported(case, language: str = "en") -> str:
    with translation.override(language):
        return "\n".join(
            [title for title, _lines in report.sections(case)]
            + [line for _title, lines in report.sections(case) for line in lines]
        )


def approve(committed, case, officer, purpose: str | None = None):
    plan = plans.current(case, purpose)
    assert plan is not None and plan.status == PlanStatus.DRAFT, plans.problems(plan.body)
    return committed(perform, case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)


def confirm_manual(committed, case, officer) -> None:
    for manual in case.changes.filter(kind="manual", status=ChangeStatus.MANUAL):
        committed(
            execute.confirm_manual,
            manual,
            actor=Actor.officer(officer),
            note_text="De boekhouder bevestigt per mail.",
            found=True,
        )


def finish(committed, case, officer) -> None:
    actor = Actor.officer(officer)
    for remote in case.changes.filter(kind="http"):
        poll_until_settled(committed, remote)
    confirm_manual(committed, case, officer)
    # Recipients that receive data only on occasion wait for the officer's word (Art. 19).
    nothing_disclosed(committed, case, officer)
    case = committed(perform, case, "prepare_response", actor=actor, response="Done.")
    committed(perform, case, "complete", actor=actor)


def tables(plan, system: str) -> dict[str, dict]:
    entry = next(s for s in plan.body["systems"] if s["system"] == system)
    return {t["table"]: t for t in entry["tables"]}


def query(world, file: str, sql: str, *args) -> list[tuple]:
    db = sqlite3.connect(world["folder"] / file)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def date_in(language: str, value: dt.date) -> str:
    with translation.override(language):
        return formats.date_format(value, "DATE_FORMAT")


def day_of(case, change) -> dt.date:
    return timezone.localtime(change.finished_at, ZoneInfo(case.controller.time_zone)).date()


# --- 1. A restriction covers every table that holds the subject, or says why not.


def test_a_restriction_marks_the_account_and_its_contracts_through_it_and_says_so(
    world, committed, mailoutbox
):
    controller, officer = world["controllers"]["contractstatus"], world["officer"]
    case = drive_to_work(committed, controller, officer, "restriction")
    plan = plans.current(case)
    found = tables(plan, "contracten")
    assert found["customers"]["op"] == "restrict" and found["customers"]["rows"] == 1
    assert found["contracts"]["op"] == "via" and found["contracts"]["rows"] == 2
    assert found["contracts"]["via"] == {"table": "customers", "label": "Account"}
    assert found["tickets"]["op"] == "via" and found["tickets"]["rows"] == 1
    page = panel(world, case)
    assert "Contracten: restricted with its parent (Account) 2" in page
    approve(committed, case, officer)
    change = case.changes.get()
    assert change.status == ChangeStatus.DONE, change.error
    assert change.counts == {"customers": 1, "contracts": 2, "tickets": 1}
    event = next(e for e in CaseEvent.objects.filter(case=case, action="system_changed"))
    assert "Restricted: customers 1" in said(event, "en")
    assert "Restricted with their parent: contracts 2, tickets 1" in said(event, "en")
    assert "Beperkt samen met het bovenliggende record: contracts 2, tickets 1" in said(event, "nl")
    finish(committed, case, officer)
    english = letter(case, "en")
    assert (
        "Smootdiensten has restricted the processing of your data in: Account, Contracten, "
        "Klantenservice." in english
    )
    assert "1 record of Account restricted." in english
    assert "2 records of Contracten restricted with the Account records they belong to." in english
    assert "1 record of Klantenservice restricted with the Account record it belongs to." in english
    assert "kept as" not in english and "could not be marked" not in english
    assert "Before the restriction is lifted, Smootdiensten will tell you (Art. 18(3) GDPR)." in (
        english
    )
    dutch = letter(case, "nl")
    assert (
        "Smootdiensten heeft de verwerking van uw gegevens beperkt in: Account, Contracten, "
        "Klantenservice." in dutch
    )
    assert (
        "2 records van Contracten beperkt, samen met de records van Account waar ze bij horen."
        in dutch
    )
    assert (
        "Voordat de beperking wordt opgeheven, laat Smootdiensten het u weten "
        "(art. 18, lid 3, AVG)." in dutch
    )
    sent = next(m for m in mailoutbox if m.to == [SUBJECT.email] and "What was done" in m.subject)
    assert "Before the restriction is lifted" in sent.body


def test_a_table_that_cannot_be_marked_says_why_in_the_plan_and_the_letter(world, committed):
    """smart-site's newsletter list has no way to mark a subscription restricted: the file says
    so in its own words; the plan shows it, and the letter claims the restriction only of the
    contact form and quotes the reason for the newsletter."""
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "restriction")
    plan = plans.current(case)
    found = tables(plan, "website")
    reason = site.systems.get(name="website").spec["tables"][1]["restriction"]["cannot"]
    assert reason.startswith("Het nieuwsbriefprogramma kan een inschrijving niet")
    assert found["newsletter"]["op"] == "none"
    assert found["newsletter"]["unmarked"] == {"why": "declared", "text": reason}
    assert f"Nieuwsbrief: keep as it is 1 · cannot be marked restricted: {reason}" in panel(
        world, case
    )
    assert f"kan niet als beperkt worden gemarkeerd: {reason}" in panel(world, case, "nl")
    approve(committed, case, officer)
    finish(committed, case, officer)
    assert f"Nieuwsbrief keep as it is 1 (cannot be marked restricted: {reason})" in reported(case)
    english = letter(case, "en")
    assert "OpJeFoon V.O.F. has restricted the processing of your data in: Contactformulier." in (
        english
    )
    assert "Your data in Nieuwsbrief could not be marked restricted; below it says why." in english
    assert "1 record of Nieuwsbrief kept as it is." in english
    assert f"It could not be marked restricted. Why, in our own words: “{reason}”" in english
    dutch = letter(case, "nl")
    assert "Uw gegevens in Nieuwsbrief konden niet als beperkt worden gemarkeerd" in dutch
    assert (
        f"Het kon niet als beperkt worden gemarkeerd. Waarom, in onze eigen woorden: “{reason}”"
        in dutch
    )


def test_a_table_whose_file_declares_no_way_to_mark_it_is_said_as_such(world, committed):
    controller, officer = world["controllers"]["contractstatus"], world["officer"]
    system = controller.systems.get(name="contracten")
    spec = json.loads(json.dumps(system.spec))
    del spec["tables"][2]["restriction"]  # tickets: nothing declared
    System.objects.filter(pk=system.pk).update(spec=spec)
    case = drive_to_work(committed, controller, officer, "restriction")
    found = tables(plans.current(case), "contracten")
    assert found["tickets"]["unmarked"] == {"why": "undeclared"}
    page = panel(world, case)
    assert (
        "Klantenservice: keep as it is 1 · cannot be marked restricted: the systems file "
        "declares no way" in page
    )
    approve(committed, case, officer)
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "restricted the processing of your data in: Account, Contracten." in english
    assert "Your data in Klantenservice could not be marked restricted" in english
    assert "It could not be marked restricted: no way to mark it is set up in this system." in (
        english
    )
    assert "Het kon niet als beperkt worden gemarkeerd: in dit systeem is daar geen manier" in (
        letter(case, "nl")
    )


def test_a_manual_system_s_restriction_is_said_as_its_owner_confirmed_it(world, committed):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "restriction")
    found = tables(plans.current(case), "klantenadministratie")
    assert {name: t["op"] for name, t in found.items()} == {
        "klanten": "restrict",
        "contactmomenten": "via",
        "nieuwsbrief": "restrict",
    }
    approve(committed, case, officer)
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "Restricted by the department that keeps it (confirmed on" in english
    assert "Done by the department" not in english
    assert "in: Klanten, Contactmomenten, Nieuwsbrief, Financiële administratie (boekhouder)." in (
        english
    )
    assert "Beperkt door de afdeling die het bijhoudt (bevestigd op" in letter(case, "nl")


def test_a_restriction_that_restricted_nothing_promises_no_notice_before_lifting(world, committed):
    """Nobody's data to restrict (the systems hold nothing of this address, and the
    bookkeeper's owner found none): the letter does not promise to tell the subject before a
    restriction is lifted that was never made (Art. 18(3))."""
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "restriction", email="nobody@example.net")
    assert not any(
        t.get("rows") for s in plans.current(case).body["systems"] for t in s.get("tables", ())
    )
    approve(committed, case, officer)
    manual = case.changes.get(kind="manual")
    committed(
        execute.confirm_manual,
        manual,
        actor=Actor.officer(officer),
        note_text="The bookkeeper found no such customer.",
        found=False,
    )
    assert all(e.status == ChangeStatus.DONE for e in case.changes.all())
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "has handled your request as follows" in english
    assert "Before the restriction is lifted" not in english
    assert "Voordat de beperking wordt opgeheven" not in letter(case, "nl")


def test_lifting_reads_lift_and_tells_the_recipients_who_were_told_of_the_restriction(
    world, committed, mailoutbox
):
    controller, officer = world["controllers"]["contractstatus"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, controller, officer, "restriction")
    approve(committed, case, officer)
    told = [n.recipient for n in case.notices.filter(status=NoticeStatus.SENT)]
    assert "bezorgdiensten" in told
    assert case.notices.exclude(status=NoticeStatus.SENT).exists()  # not told: not told again
    finish(committed, case, officer)
    case.refresh_from_db()
    lift = committed(plans.make, case, actor=actor, purpose=plans.LIFT)
    found = tables(lift, "contracten")
    assert found["customers"]["op"] == "lift"
    assert found["customers"]["columns"] == [{"column": "restricted", "to": "value", "value": "0"}]
    assert found["contracts"]["op"] == "via" and found["tickets"]["op"] == "via"
    # Only the recipients told of the restriction are told of its lifting.
    assert [n["recipient"] for n in lift.body["notices"]] == told
    made = CaseEvent.objects.filter(case=case, action="plan_made").order_by("-seq").first()
    assert made.data["changes"] == {
        "Contractadministratie contractstatus.nl": {
            "customers": "lift 1",
            "contracts": "via 2",
            "tickets": "via 1",
        }
    }
    english, dutch = said(made, "en"), said(made, "nl")
    assert "For: Lifting of a restriction (Art. 18(3))" in english
    assert "customers: lift the restriction 1" in english
    assert "restrict" not in english.replace("restriction", "")
    assert "Voor: Opheffen van een beperking (art. 18, lid 3)" in dutch
    assert "beperk" not in dutch.replace("beperking", "")
    lifting = panel(world, case, part="Lifting the restriction (Art. 18(3))")
    assert "Account: lift the restriction 1" in lifting
    assert "Contracten: lifted with its parent (Account) 2" in lifting
    assert "restrict " not in lifting and "restricted with" not in lifting
    dutch_page = panel(world, case, "nl")
    assert "Account: beperking opheffen 1" in dutch_page
    committed(perform, case, "lift_restriction", actor=actor, plan=lift.sha256, reason="Checked.")
    # The step's own reason reaches the subject's notice (the receiver is given it).
    assert [m for m in mailoutbox if m.to == [case.email] and "Checked." in m.body]
    change = lift.changes.get()
    from fulfilment.models import Change

    Change.objects.filter(pk=change.pk).update(next_attempt_at=timezone.now())
    mailoutbox.clear()
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE, change.error
    event = CaseEvent.objects.filter(case=case, action="system_changed").order_by("-seq").first()
    english, dutch = said(event, "en"), said(event, "nl")
    assert "Lifted: customers 1" in english
    assert "Lifted with their parent: contracts 2, tickets 1" in english
    assert "Restricted" not in english
    assert "Opgeheven: customers 1" in dutch and "Beperkt" not in dutch
    assert sorted(lift.notices.values_list("recipient", "status")) == sorted(
        (name, NoticeStatus.SENT) for name in told
    )
    (mail,) = [m for m in mailoutbox if m.to == ["privacy@bezorger.example"]]
    assert "heeft de beperking van de verwerking" in mail.body
    assert "opgeheven (art. 18 lid 3 AVG)" in mail.body
    assert "Beperk alstublieft" not in mail.body
    text = reported(case)
    assert "Plan of changes: Lifting of a restriction (Art. 18(3))" in text
    assert "Account lift the restriction 1" in text


# --- 2. Rows an erasure keeps are restricted in the same change.


def test_an_erasure_empties_and_marks_restricted_the_invoices_it_keeps_in_one_change(
    world, committed
):
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    found = tables(plans.current(case), "platform")
    invoices = found["invoices"]
    assert invoices["op"] == "update" and invoices["restricted"] is True
    assert {"column": "restricted", "to": "value", "value": "1", "restrict": True} in (
        invoices["columns"]
    )
    approve(committed, case, officer)
    change = case.changes.get(system_name="platform")
    assert change.status == ChangeStatus.DONE, change.error
    kept = query(
        world,
        "smartlockr-platform.sqlite3",
        "SELECT user_id, restricted, iban FROM invoices WHERE iban = ? AND invoice_date IN "
        "('2024-03-01', '2024-04-01') ORDER BY id",
        "NL91ABNA0417164300",
    )
    assert kept == [(None, 1, "NL91ABNA0417164300"), (None, 1, "NL91ABNA0417164300")]
    others = query(
        world,
        "smartlockr-platform.sqlite3",
        "SELECT count(*) FROM invoices WHERE restricted = 1 OR user_id IS NULL",
    )[0][0]
    assert others == 2
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "2 records of Facturen kept; erased from them: Gebruiker." in english
    assert "They are marked restricted: used only for the reason they are kept." in english
    assert "Kept because: Art. 17(3)(b) AVG" in english
    dutch = letter(case, "nl")
    assert "2 records van Facturen bewaard; daaruit gewist: Gebruiker." in dutch
    assert (
        "Ze zijn als beperkt gemarkeerd: alleen gebruikt voor de reden waarom ze worden bewaard."
        in dutch
    )


# --- 3. An objection or a withdrawal says which processing stopped, and since when.


def test_an_objection_s_letter_names_the_processing_that_stopped(world, committed):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "objection")
    found = tables(plans.current(case), "klantenadministratie")
    processing = "Toezending van de nieuwsbrief van Defero en haar merken (direct marketing)"
    assert found["nieuwsbrief"]["processing"] == processing
    assert f"stops: {processing}" in panel(world, case)
    approve(committed, case, officer)
    finish(committed, case, officer)
    change = case.changes.get(system_name="klantenadministratie")
    day = day_of(case, change)
    english = letter(case, "en")
    assert (
        f"“{processing}” stopped on {date_in('en', day)}: 1 record of Nieuwsbrief deleted."
        in english
    )
    assert "Text in quotation marks is our own description, quoted as we wrote it." in english
    assert "record of Nieuwsbrief changed" not in english
    assert "The department that keeps it stopped the processing you objected to (confirmed" in (
        english
    )
    dutch = letter(case, "nl")
    assert (
        f"“{processing}” gestopt op {date_in('nl', day)}: 1 record van Nieuwsbrief verwijderd."
        in dutch
    )
    assert "Tekst tussen aanhalingstekens is onze eigen omschrijving" in dutch
    assert "De afdeling die het bijhoudt heeft de verwerking waartegen u bezwaar maakte" in dutch


def test_a_withdrawal_stops_the_newsletter_now_and_says_so(world, committed):
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "withdraw_consent")
    newsletter = tables(plans.current(case), "website")["newsletter"]
    assert newsletter["rows"] == 1 and "already" not in newsletter
    approve(committed, case, officer)
    finish(committed, case, officer)
    change = case.changes.get()
    day = date_in("en", day_of(case, change))
    processing = "Toezending van de nieuwsbrief, op grond van uw toestemming"
    english = letter(case, "en")
    assert f"“{processing}” stopped on {day}: 1 record of Nieuwsbrief marked so." in english
    assert "has acted on the withdrawal of your consent as follows" in english


def opt_out(world, when: str) -> None:
    """The subject unsubscribes from Smart-Site's newsletter by its own link, at ``when``."""
    db = sqlite3.connect(world["folder"] / "smart-site-website.sqlite3")
    with db:
        db.execute(
            "UPDATE newsletter SET unsubscribed_at = ? WHERE lower(email) = ?",
            (when, SUBJECT.email),
        )
    db.close()


def test_an_opt_out_already_made_keeps_its_date_and_the_letter_says_since_when(world, committed):
    site, officer = world["controllers"]["smart-site"], world["officer"]
    opt_out(world, "2024-05-03 10:00:00")
    case = drive_to_work(committed, site, officer, "objection")
    newsletter = tables(plans.current(case), "website")["newsletter"]
    assert newsletter["rows"] == 1
    assert newsletter["already"] == {"rows": 1, "since": ["2024-05-03"]}
    assert "1 stopped already (since 2024-05-03): left as they are" in panel(world, case)
    approve(committed, case, officer)
    change = case.changes.get()
    assert change.status == ChangeStatus.DONE, change.error  # verified as it is
    stamp = query(
        world,
        "smart-site-website.sqlite3",
        "SELECT unsubscribed_at FROM newsletter WHERE lower(email) = ?",
        SUBJECT.email,
    )
    assert stamp == [("2024-05-03 10:00:00",)]
    finish(committed, case, officer)
    processing = "Toezending van de nieuwsbrief met reclameaanbiedingen (direct marketing)"
    english = letter(case, "en")
    assert (
        f"“{processing}” had already stopped on May 3, 2024 (1 record of Nieuwsbrief, left as "
        "it is)." in english
    )
    assert "stopped on" not in english.replace("already stopped on", "")
    assert "has acted on your objection" not in english  # nothing changed
    dutch = letter(case, "nl")
    assert f"“{processing}” was al gestopt op 3 mei 2024 (1 record van Nieuwsbrief," in dutch


def test_an_opt_out_made_after_the_plan_is_said_stopped_already_and_told_to_nobody(
    world, committed, monkeypatch
):
    """The subject unsubscribes by the newsletter's own link between the plan and its change:
    the change writes nothing there, so the letter says the processing had stopped already,
    never that it stopped now, and no recipient is told of a change that was not made."""
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "withdraw_consent")
    newsletter = tables(plans.current(case), "website")["newsletter"]
    assert newsletter["rows"] == 1 and "already" not in newsletter
    monkeypatch.setattr(execute.CHANGES, "enqueue", lambda pk: None)
    approve(committed, case, officer)
    opt_out(world, "2026-02-01 09:00:00")
    change = case.changes.get()
    committed(execute.run, change.pk)
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE, change.error
    assert change.already == {"newsletter": {"rows": 1, "since": ["2026-02-01"]}}
    assert not completion.effect(change)
    event = CaseEvent.objects.get(case=case, action="system_changed")
    assert "Stopped already before the change, left as they were: newsletter 1" in said(event, "en")
    notices = list(plans.current(case).notices.all())
    assert notices and not any(n.told or n.mail_id for n in notices)
    finish(committed, case, officer)
    processing = "Toezending van de nieuwsbrief, op grond van uw toestemming"
    english = letter(case, "en")
    assert (
        f"“{processing}” had already stopped on {date_in('en', dt.date(2026, 2, 1))} (1 record "
        "of Nieuwsbrief, left as it is)." in english
    )
    assert "stopped on" not in english.replace("already stopped on", "")
    assert "has acted on the withdrawal of your consent" not in english
    assert "We told these recipients" not in english


# --- 4. What an erasure keeps unlinked stays findable, or identifies nobody any more.


def _access(committed, world, controller):
    officer = world["officer"]
    case = drive_to_work(committed, controller, officer, "access")
    settle(committed, case, officer)
    return case, respond(committed, case, officer)


def test_invoices_an_erasure_kept_unlinked_are_found_by_a_later_access_request(world, committed):
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    erasure = drive_to_work(committed, smartlockr, officer, "erasure")
    invoices = tables(plans.current(erasure), "platform")["invoices"]
    assert invoices["after"] == "findable"
    assert "kept rows stay findable" in panel(world, erasure)
    approve(committed, erasure, officer)
    change = erasure.changes.get(system_name="platform")
    assert change.status == ChangeStatus.DONE, change.error
    ids = [
        key
        for (key,) in query(
            world,
            "smartlockr-platform.sqlite3",
            "SELECT id FROM invoices WHERE user_id IS NULL ORDER BY id",
        )
    ]
    assert change.kept == {"invoices": ids} and len(ids) == 2
    event = CaseEvent.objects.get(case=erasure, action="system_changed", data__system_kind="sql")
    assert "Kept rows findable by key in a later access request: invoices 2" in said(event, "en")
    assert SUBJECT.email not in str(event.data) and "NL91ABNA" not in str(event.data)
    finish(committed, erasure, officer)
    english = letter(erasure, "en")
    assert (
        "If you ask us for access later from the email address of this request, we will find "
        "them by their record numbers, which we keep for that purpose alone." in english
    )
    assert (
        "Vraagt u later om inzage vanaf het e-mailadres van dit verzoek, dan vinden wij ze terug "
        "aan de hand van de recordnummers" in letter(erasure, "nl")
    )
    # A later access request of the same subject finds them by their keys.
    access, package = _access(committed, world, smartlockr)
    assert collect.kept_for(access, "platform") == {"invoices": ids}
    archive = unzip(package)
    rows = json.loads(archive.read("data/platform/invoices.json"))
    assert sorted(row["id"] for row in rows) == ids
    assert {row["iban"] for row in rows} == {"NL91ABNA0417164300"}
    assert all(row["user_id"] is None for row in rows)
    assert "data/platform/users.json" not in archive.namelist()  # the account is gone
    index = html.unescape(archive.read("index.html").decode())
    day = date_in("en", day_of(erasure, change))
    until = date_in("en", dt.date.fromisoformat(invoices["keep_until"]))
    keys = ", ".join(map(str, ids))
    assert (
        f"Kept after your erasure on {day}, until {until} at the latest: the records {keys}."
        in index
    )
    assert "Why: Art. 17(3)(b) AVG: fiscale bewaarplicht" in index
    started = CaseEvent.objects.get(case=access, action="search_started")
    assert "records kept after an erasure" in said(started, "en")
    # Only the same subject's (the same confirmed address, in any case) request looks for them.
    from cases.intake import receive_case

    for email, found in ((SUBJECT.email.upper(), {"invoices": ids}), ("piet@example.org", {})):
        other = committed(
            receive_case,
            controller=smartlockr,
            right="access",
            name="X",
            email=email,
            language="en",
        )
        assert collect.kept_for(other, "platform") == found


def erase_at_smartlockr(world, committed) -> list[int]:
    """An erasure at Smartlockr, done and answered: returns the keys of the invoices it kept
    and unlinked."""
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    erasure = drive_to_work(committed, smartlockr, officer, "erasure")
    approve(committed, erasure, officer)
    finish(committed, erasure, officer)
    return erasure.changes.get(system_name="platform").kept["invoices"]


@pytest.mark.parametrize("withheld", ["record", "record's key", "table", "key column"])
def test_the_index_names_no_kept_record_the_officer_withheld(world, committed, withheld):
    """The index says which records were kept after the erasure only of those the package
    holds with their key: a record withheld (Art. 15(4)), or its key, or the whole table or its
    key column, is not named beside the table either."""
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    ids = erase_at_smartlockr(world, committed)
    assert len(ids) == 2
    access = drive_to_work(committed, smartlockr, officer, "access")
    settle(committed, access, officer)
    record, column = {
        "record": (str(ids[0]), ""),
        "record's key": (str(ids[0]), "id"),
        "table": ("", ""),
        "key column": ("", "id"),
    }[withheld]
    Withholding.objects.create(
        case=access,
        system_name="platform",
        table="invoices",
        record=record,
        column=column,
        reason="Art. 15(4): another person's data",
        by=officer,
        at=timezone.now(),
    )
    archive = unzip(respond(committed, access, officer))
    index = html.unescape(archive.read("index.html").decode())
    if withheld == "table":
        assert "data/platform/invoices.json" not in archive.namelist()
    else:
        rows = json.loads(archive.read("data/platform/invoices.json"))
        assert len(rows) == (1 if withheld == "record" else 2)
    if withheld.startswith("record"):
        assert f"the records {ids[1]}." in index
    else:
        assert "Kept after your erasure" not in index


@pytest.mark.parametrize("ended", ["yesterday", "no end declared"])
def test_kept_rows_are_searched_by_key_only_until_their_retention_ends(world, committed, ended):
    """Past the date until which the erasure kept them, the invoices' keys are no longer
    searched: by then they should be gone, and a key may name another person's row. Keys
    without an end (a plan made before the loader asked for keep_years) are not searched."""
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    ids = erase_at_smartlockr(world, committed)
    erasure = smartlockr.cases.get(right="erasure")
    plan = plans.current(erasure)
    body = json.loads(json.dumps(plan.body))
    entry = next(s for s in body["systems"] if s["system"] == "platform")
    invoices = next(t for t in entry["tables"] if t["table"] == "invoices")
    from cases.intake import receive_case

    probe = committed(
        receive_case,
        controller=smartlockr,
        right="access",
        name=SUBJECT.name,
        email=SUBJECT.email,
        language="en",
    )
    assert collect.kept_for(probe, "platform") == {"invoices": ids}
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    invoices["keep_until"] = yesterday.isoformat() if ended == "yesterday" else None
    type(plan).objects.filter(pk=plan.pk).update(body=body)
    assert collect.kept_for(probe, "platform") == {}
    access = drive_to_work(committed, smartlockr, officer, "access")
    settle(committed, access, officer)
    archive = unzip(respond(committed, access, officer))
    assert "data/platform/invoices.json" not in archive.namelist()  # none found
    assert "Kept after your erasure" not in archive.read("index.html").decode()


def test_keys_recorded_before_a_replaced_plan_carry_over_to_the_change_that_finishes(
    world, committed, monkeypatch
):
    """The first try unlinks the invoices and then fails its verification; the officer makes
    the plan again, which finds them unlinked already: the change that finishes still holds
    their keys, so a later access request finds them."""
    from fulfilment.systems.connectors import sqlchange

    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    monkeypatch.setattr(execute.CHANGES, "enqueue", lambda pk: None)
    approve(committed, case, officer)
    first = case.changes.get(system_name="platform")
    real = sqlchange.verify
    monkeypatch.setattr(sqlchange, "verify", lambda *args: ["a row is still there"])
    committed(execute.run, first.pk)
    first.refresh_from_db()
    assert first.status == ChangeStatus.PENDING and len(first.kept["invoices"]) == 2
    monkeypatch.setattr(sqlchange, "verify", real)
    second = committed(plans.make, case, actor=Actor.officer(officer))
    assert tables(second, "platform")["invoices"]["rows"] == 0  # unlinked already
    approve(committed, case, officer)
    last = second.changes.get(system_name="platform")
    committed(execute.run, last.pk)
    last.refresh_from_db()
    assert last.status == ChangeStatus.DONE, last.error
    assert last.kept == first.kept


def test_fifty_thousand_kept_keys_merge_in_linear_time():
    """An erasure that unlinks 50,000 invoices: merging their keys with those recorded before
    (a retry, a replaced plan) and handing them to a later search takes tens of milliseconds
    (a list searched key by key took ~21 s a merge), each key once, in the order recorded."""
    import time

    keys = list(range(50_000))
    entry = {"tables": [{"table": "invoices", "after": "findable"}]}
    start = time.perf_counter()
    kept = execute._kept_keys(
        entry, {"invoices": keys}, [{"invoices": keys[::-1]}, {"invoices": keys[:10]}]
    )
    records = {("platform", "invoices"): [{"keys": keys}, {"keys": keys[::-1]}]}
    searched = collect.kept_for(None, "platform", records)
    elapsed = time.perf_counter() - start
    assert kept == {"invoices": keys[::-1]} and searched == {"invoices": keys}
    # Generous for a loaded machine (tens of milliseconds idle), and still half of what the
    # quadratic merge took idle: only a linear merge meets it.
    assert elapsed < 10, elapsed


def test_kept_rows_that_no_longer_identify_the_subject_are_said_so_and_not_recorded(
    world, committed
):
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    system = smartlockr.systems.get(name="platform")
    spec = json.loads(json.dumps(system.spec))
    invoices = spec["tables"][1]
    for column in invoices["columns"]:
        if column["name"] == "iban":
            column["erasure"] = "null"
        elif column["name"] != "user_id":
            column["anonymous"] = True
    System.objects.filter(pk=system.pk).update(spec=spec)
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    assert tables(plans.current(case), "platform")["invoices"]["after"] == "anonymous"
    assert "kept rows no longer identify the subject" in panel(world, case)
    approve(committed, case, officer)
    change = case.changes.get(system_name="platform")
    assert change.status == ChangeStatus.DONE, change.error
    assert change.kept == {}
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "They no longer identify you: everything in them that could has been erased." in english
    assert "we will find them" not in english
    assert "Ze zijn niet meer tot u te herleiden" in letter(case, "nl")


def test_kept_rows_are_restricted_through_their_parent_only_while_it_is_kept_and_linked():
    """On erasure, "via parent" holds only if the parent row stays (kept and flagged) and the
    link to it is left: an order whose account is deleted, or whose link is emptied, cannot be
    restricted through it, and the plan says why."""
    from .test_connectors import column, sql_spec

    def orders(account: dict, link: str, years: int = 7) -> dict:
        spec = sql_spec(
            [
                {
                    "name": "accounts",
                    "key": "id",
                    "identities": {"email": "email"},
                    "restriction": {"column": "restricted", "value": "1", "lifted": "0"},
                    "columns": [column("id"), column("email")],
                    **account,
                },
                {
                    "name": "orders",
                    "label": "Bestellingen",
                    "key": "id",
                    "reached_from": {
                        "table": "accounts",
                        "column": "account_id",
                        "parent_column": "id",
                    },
                    "erasure": "update",
                    "keep_ground": "Art. 17(3)(b)",
                    "keep_years": 7,
                    "restriction": {"via": "parent"},
                    "columns": [
                        column("id"),
                        {**column("account_id"), "erasure": link},
                        {**column("iban"), "erasure": "null"},
                    ],
                },
            ]
        )
        if not years:  # as a system loaded before the loader asked for keep_years
            spec = replace(spec, tables=tuple(replace(t, keep_years=0) for t in spec.tables))
        made = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        return plans.table_entry("erasure", spec, spec.table("orders"), made)

    kept = orders({"erasure": "keep", "keep_ground": "Art. 17(3)(e)"}, "")
    assert kept["op"] == "update" and kept["via"] == {"table": "accounts", "label": "accounts"}
    assert "unmarked" not in kept and "after" not in kept  # still linked: found as before
    unlinked = orders({"erasure": "keep", "keep_ground": "Art. 17(3)(e)"}, "null")
    assert unlinked["unmarked"] == {"why": "parent_erased"} and unlinked["after"] == "findable"
    # Without a retention period (a system loaded before the loader asked for one) the plan
    # does not say they stay findable, and the change records no keys to search with no end.
    endless = orders({"erasure": "keep", "keep_ground": "Art. 17(3)(e)"}, "null", years=0)
    assert endless["keep_until"] is None and "after" not in endless
    assert (
        execute._kept_keys({"tables": [{"table": "orders", **endless}]}, {"orders": [1]}, []) == {}
    )
    deleted = orders({"erasure": "delete"}, "null")
    assert deleted["unmarked"] == {"why": "parent_erased"} and "via" not in deleted
    with translation.override("en"):
        lines = completion._kept_rows({**deleted, "rows": 2}, 2)
    assert (
        "They could not be marked restricted: the records they were restricted through were erased."
        in lines
    )
