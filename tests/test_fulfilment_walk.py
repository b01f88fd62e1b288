"""What a walk of the demo as its users (subject, officer, auditor) found in the fulfilment room
after issue 20, each a class of fault: a change counted that was never made (rows that had
stopped already), a processor told to erase what the same case keeps, a lifting announced that
lifts nothing, a recipient said told by an address never written to, Art. 19 cited for rights it
does not cover, a recipient listed twice with two reasons, kept rows that ``find_subject`` did
not show, a manual export the package did not describe, and review pages that answered 500
once the case had closed."""

from __future__ import annotations

import html
import io
import json
import re
import sqlite3

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from cases.actors import Actor
from cases.mail import render
from cases.models import CaseEvent, OutgoingMail
from cases.workflow import perform
from fulfilment.changes import completion, execute, plans
from fulfilment.models import ChangeStatus, NoticeStatus
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
from .test_change_letters import approve, finish, letter, panel, reported, said
from .test_recipients import in_language

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def write(world, file: str, sql: str, *args) -> None:
    """Change a demo system's data as its own application would (committed)."""
    db = sqlite3.connect(world["folder"] / file)
    try:
        with db:
            db.execute(sql, args)
    finally:
        db.close()


# --- A1. Rows that had stopped already are never counted as changed.


def test_a_withdrawal_after_an_objection_counts_nothing_changed_anywhere(world, committed):
    """smartphoto: the newsletter was stopped by an earlier objection; withdrawing consent
    changes nothing. The plan, the panel, the record, the report and the letter say the row
    had stopped already, and none of them says it was changed."""
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    write(
        world,
        "smartphoto-webshop.sqlite3",
        "UPDATE accounts SET newsletter = 0 WHERE lower(email) = ?",
        SUBJECT.email,
    )
    case = drive_to_work(committed, smartphoto, officer, "withdraw_consent")
    plan = plans.current(case)
    accounts = next(t for s in plan.body["systems"] for t in s.get("tables", ()))
    assert accounts["table"] == "accounts" and accounts["rows"] == 1
    assert accounts["already"]["rows"] == 1
    made = CaseEvent.objects.get(case=case, action="plan_made")
    assert "accounts: change 0" in said(made, "en")
    assert "Stopped already, left as they are: Webshop smartphoto.be (accounts: 1)" in said(
        made, "en"
    )
    assert "accounts: wijzigen 0" in said(made, "nl")
    page = panel(world, case)
    assert "Account: change 0 (newsletter → 0)" in page
    assert "1 stopped already: left as they are" in page
    assert "change 1" not in page
    assert "Account: wijzigen 0" in panel(world, case, "nl")
    approve(committed, case, officer)
    change = case.changes.get()
    assert change.status == ChangeStatus.DONE, change.error
    assert not completion.effect(change)
    event = CaseEvent.objects.get(case=case, action="system_changed")
    assert event.data["done"] == [{"table": "accounts", "op": "update", "rows": 0}]
    english, dutch = said(event, "en"), said(event, "nl")
    assert "Changed:" not in english and "Nothing was changed" in english
    assert "Stopped already before the change, left as they were: accounts 1" in english
    assert "Gewijzigd:" not in dutch
    finish(committed, case, officer)
    text = reported(case)
    assert "Account change 0 (1 stopped already: left as they are)" in text
    assert "Changed: accounts" not in text
    assert "Account wijzigen 0" in reported(case, "nl")
    processing = "Toezending van de nieuwsbrief, op grond van jouw toestemming"
    english = letter(case, "en")
    assert (
        f"“{processing}” had already stopped when we acted on your request (1 record of "
        "Account, left as it is)." in english
    )
    assert "stopped on" not in english
    assert "was al gestopt toen wij uw verzoek uitvoerden (1 record van Account" in letter(
        case, "nl"
    )


# --- A4. A recipient is told what became of the data it receives: erased, or kept.


def _erase_at_defero(world, committed, *, receives: list[str] | None = None):
    defero, officer = world["controllers"]["defero"], world["officer"]
    if receives is not None:
        defero.notify = [
            {**e, "receives": receives} if e["recipient"] == "verwerkers" else e
            for e in defero.notify
        ]
        defero.save(update_fields=["notify"])
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    manual = case.changes.get(kind="manual")
    committed(
        execute.confirm_manual,
        manual,
        actor=Actor.officer(officer),
        note_text="De boekhouder bewaart de facturen, beperkt.",
        found=True,
    )
    return case


def test_a_processor_of_data_the_erasure_keeps_is_told_to_keep_it_restricted_not_to_erase_it(
    world, committed
):
    """Defero erases its customer administration and keeps the bookkeeper's records under
    its tax duty: the bookkeeper (its processor, receiving every system's data) is told, per
    system, what was erased and what is kept, restricted, until when, and instructed so."""
    case = _erase_at_defero(world, committed)
    plan = plans.current(case)
    until = next(s for s in plan.body["systems"] if s["kind"] == "manual")["keep_until"]
    verwerkers = plan.notices.get(recipient="verwerkers")
    assert verwerkers.mail is not None and verwerkers.mail.to == "privacy@boekhouder.example"
    english = in_language(verwerkers.mail, "en")
    assert (
        "At that person's request, Defero has erased their personal data (Art. 17 GDPR), "
        "except what it must keep under a legal ground (Art. 17(3) GDPR): that it keeps "
        "restricted, used only for that ground. What was done, system by system:" in english
    )
    assert re.search(r"\n- Klantenadministratie: [^\n]*Klanten[^\n]* erased\n", english)
    assert (
        f"\n- Financiële administratie (boekhouder): kept until {until}, restricted, used only "
        "for this ground, in our words: “Art. 17(3)(b) AVG: fiscale bewaarplicht" in english
    )
    assert (
        "we instruct you to do the same with the data of this person that you process for us: "
        "erase what we erased; keep what we keep restricted, as we do: store it, use it only "
        "for the ground given, and only until the date given." in english
    )
    assert "instruct you to erase the personal data of this person" not in english
    dutch = in_language(verwerkers.mail, "nl")
    assert "behalve wat het op grond van de wet moet bewaren (art. 17, lid 3, AVG)" in dutch
    assert f"- Financiële administratie (boekhouder): bewaard tot {until}, beperkt" in dutch
    assert "de persoonsgegevens van deze persoon die u voor ons verwerkt te wissen" not in dutch
    html_body = render(verwerkers.mail).alternatives[0][0]
    assert "<li>Financiële administratie (boekhouder):" in html_body


def test_a_recipient_of_the_erased_system_alone_is_told_to_erase(world, committed):
    case = _erase_at_defero(world, committed, receives=["klantenadministratie"])
    verwerkers = plans.current(case).notices.get(recipient="verwerkers")
    english = in_language(verwerkers.mail, "en")
    assert "At that person's request, Defero has erased their personal data (Art. 17 GDPR)." in (
        english
    )
    assert "kept" not in english and "Financiële" not in english
    assert "we instruct you to erase the personal data of this person" in english


def test_an_independent_recipient_told_of_a_partial_erasure_is_not_asked_to_erase_what_is_kept(
    world, committed
):
    """Smartlockr's third parties receive the platform's data, where the invoices are kept:
    the officer gives an address, and the notice asks it to erase what we erased only."""
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    approve(committed, case, officer)
    for remote in case.changes.filter(kind="http"):
        poll_until_settled(committed, remote)
    derden = plans.current(case).notices.get(recipient="derden")
    assert derden.status == NoticeStatus.UNRESOLVED  # it receives data only on occasion
    committed(
        execute.decide,
        derden,
        actor=Actor.officer(officer),
        decision=execute.TELL_BY_MAIL,
        address="privacy@derde.example",
    )
    derden.refresh_from_db()
    english = in_language(derden.mail, "en")
    assert re.search(r"\n- Smartlockr-platform: Gebruikers erased; Facturen: kept until ", english)
    assert (
        "Please erase what you received from us of the data of this person that we erased "
        "(listed above), unless you must keep it by law. What we keep, we keep restricted for "
        "the ground given: we do not ask you to erase your copy of it." in english
    )
    assert "Logboek" not in english  # it receives the platform's data only


# --- A5. A lifting that lifts nothing is refused; the lifting's notice takes an answer.


def test_a_lifting_that_would_lift_nothing_is_refused_and_the_panel_says_why(world, committed):
    """smartphoto: the subject's restriction, then her erasure (the account is gone, the
    orders kept restricted under it): lifting the restriction would lift nothing, so the
    subject is not told that it will be lifted."""
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    actor = Actor.officer(officer)
    restriction = drive_to_work(committed, smartphoto, officer, "restriction")
    approve(committed, restriction, officer)
    finish(committed, restriction, officer)
    erasure = drive_to_work(committed, smartphoto, officer, "erasure")
    approve(committed, erasure, officer)
    finish(committed, erasure, officer)
    restriction.refresh_from_db()
    lift = committed(plans.make, restriction, actor=actor, purpose=plans.LIFT)
    rows = [t.get("rows", 0) for s in lift.body["systems"] for t in s.get("tables", ())]
    assert rows and not any(rows)
    with pytest.raises(ValidationError, match="This lifting would lift nothing"):
        perform(restriction, "lift_restriction", actor=actor, plan=lift.sha256, reason="x")
    with translation.override("nl"), pytest.raises(ValidationError, match="zou niets opheffen"):
        perform(restriction, "lift_restriction", actor=actor, plan=lift.sha256, reason="x")
    assert not OutgoingMail.objects.filter(case=restriction, kind="lift_notice").exists()
    page = panel(world, restriction)
    assert "This lifting would lift nothing" in page
    assert "Tell the subject and lift" not in page


def test_the_lifting_s_notice_to_the_subject_is_answered_at_the_privacy_address(
    world, committed, mailoutbox
):
    controller, officer = world["controllers"]["contractstatus"], world["officer"]
    actor = Actor.officer(officer)
    case = drive_to_work(committed, controller, officer, "restriction")
    approve(committed, case, officer)
    finish(committed, case, officer)
    case.refresh_from_db()
    lift = committed(plans.make, case, actor=actor, purpose=plans.LIFT)
    assert not plans.lift_refusal(case, lift.body)
    mailoutbox.clear()
    committed(perform, case, "lift_restriction", actor=actor, plan=lift.sha256, reason="Klaar.")
    (sent,) = [m for m in mailoutbox if m.to == [SUBJECT.email]]
    assert "answer this message before that date" in sent.body
    assert sent.reply_to == [controller.privacy_emails[0]]
    assert (
        OutgoingMail.objects.get(case=case, kind="lift_notice").context["reply_to"]
        == (controller.privacy_emails[0])
    )


# --- A7. How each recipient was told: through its processor's request, by mail, otherwise.


def test_a_recipient_told_through_its_processor_s_request_is_never_said_told_by_mail(
    world, committed
):
    """Smartlockr's processor is told by the request made to its system (no mail exists); a
    recipient told by mail is said so with its address; one the officer told another way,
    so. The report, the panel and the letter agree."""
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    approve(committed, case, officer)
    for remote in case.changes.filter(kind="http"):
        poll_until_settled(committed, remote)
    notices = {n.recipient: n for n in plans.current(case).notices.all()}
    verwerkers = notices["verwerkers"]
    assert verwerkers.status == NoticeStatus.SENT and verwerkers.mail is None
    assert verwerkers.how == "system"
    committed(
        execute.decide,
        notices["derden"],
        actor=Actor.officer(officer),
        decision=execute.TOLD_OTHERWISE,
        note_text="Gebeld met de privacy officer van de derde op 3 december.",
    )
    nothing_disclosed(committed, case, officer)
    text = reported(case)
    processor = "Logboek beveiligde e-mail (verwerker)"
    assert f"verwerkers: told · through the request made to its system ({processor})" in text
    assert "privacy@mailverwerker.example" not in text
    assert "derden: told · another way · “Gebeld met de privacy officer" in text
    page = panel(world, case)
    assert f"through the request made to its system ({processor})" in page
    assert "privacy@mailverwerker.example" not in page
    assert "via het verzoek aan zijn systeem" in panel(world, case, "nl")
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "- verwerkers: through the request we made to its system" in english
    assert "- derden: another way" in english
    assert "- verwerkers: via het verzoek dat wij aan zijn systeem deden" in letter(case, "nl")


def test_a_recipient_told_by_mail_is_said_told_by_mail_to_its_address(world, committed):
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    case = drive_to_work(committed, smartphoto, officer, "erasure")
    approve(committed, case, officer)
    finish(committed, case, officer)
    printer = plans.current(case).notices.get(recipient="verwerkers")
    assert printer.how == "email"
    assert "verwerkers: told · by mail to privacy@drukkerij.example · mail" in reported(case)
    assert "- verwerkers: by mail to privacy@drukkerij.example" in letter(case, "en")
    assert "- verwerkers: per mail aan privacy@drukkerij.example" in letter(case, "nl")


# --- A8. Art. 19 is cited only for the rights it covers; the processing stopped is named.


def test_an_objection_s_letter_cites_no_art_19_and_its_notices_name_the_processing(
    world, committed
):
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "objection")
    approve(committed, case, officer)
    processing = "Toezending van de nieuwsbrief met reclameaanbiedingen (direct marketing)"
    hosting = plans.current(case).notices.get(
        recipient="diensten van derden waarmee we een verwerkersovereenkomst hebben afgesloten"
    )
    english = in_language(hosting.mail, "en")
    assert (
        "At that person's objection (Art. 21 GDPR), OpJeFoon V.O.F. has stopped this processing "
        f"of their personal data, as it names it: “{processing}”." in english
    )
    assert "purposes objected to" not in english
    dutch = in_language(hosting.mail, "nl")
    assert f"zoals zij die noemt: “{processing}”" in dutch
    assert "doeleinden waartegen bezwaar is gemaakt" not in dutch
    finish(committed, case, officer)
    english = letter(case, "en")
    assert "We told these recipients of your data:\n" in english
    assert "These recipients were not told, because telling them proved impossible:\n" in english
    assert "Art. 19" not in english
    dutch = letter(case, "nl")
    assert "Wij hebben deze ontvangers van uw gegevens ingelicht:\n" in dutch
    assert "art. 19" not in dutch
    # An erasure still cites it.
    erasure = drive_to_work(committed, site, officer, "erasure")
    approve(committed, erasure, officer)
    finish(committed, erasure, officer)
    assert "We told these recipients of your data (Art. 19 GDPR):" in letter(erasure, "en")


# --- A9. Each recipient once, with its one reason.


GOOGLE = "Google (Google Analytics)"


def test_a_recipient_with_a_declared_exception_is_not_told_for_one_reason_only(world, committed):
    """Smart-Site's withdrawal changes nothing (the newsletter stopped already): Google, under
    a declared exception, is not told because there was nothing to tell, and is named once."""
    site, officer = world["controllers"]["smart-site"], world["officer"]
    write(
        world,
        "smart-site-website.sqlite3",
        "UPDATE newsletter SET unsubscribed_at = '2024-05-03 10:00:00' WHERE lower(email) = ?",
        SUBJECT.email,
    )
    case = drive_to_work(committed, site, officer, "withdraw_consent")
    approve(committed, case, officer)
    google = plans.current(case).notices.get(recipient=GOOGLE)
    assert google.status == NoticeStatus.UNREACHABLE
    assert google.reason == completion.NOTHING_CHANGED
    assert google.exception == "" and google.note == ""
    finish(committed, case, officer)
    for language in ("en", "nl"):
        text = letter(case, language)
        assert text.count(GOOGLE) == 1, text
        assert "onmogelijk" not in text and "impossible" not in text
    assert "it proves impossible" not in reported(case)
    # A notice recorded before this was decided (both kept) still reads once.
    google.exception, google.note = "impossible", "Alleen gepseudonimiseerde bezoekgegevens."
    google.save()
    assert letter(case, "en").count(GOOGLE) == 1


def test_a_declared_exception_holds_where_something_changed(world, committed):
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "withdraw_consent")
    approve(committed, case, officer)
    google = plans.current(case).notices.get(recipient=GOOGLE)
    assert google.status == NoticeStatus.UNREACHABLE and google.exception == "impossible"
    assert google.reason == "" and google.note.startswith("Google Analytics ontvangt")
    finish(committed, case, officer)
    assert letter(case, "en").count(GOOGLE) == 1


# --- A13. find_subject shows the rows an erasure kept, found by their recorded keys.


def _find(slug: str) -> dict[str, dict]:
    out = io.StringIO()
    call_command(
        "find_subject", "--controller", slug, "--email", SUBJECT.email, "--json", stdout=out
    )
    return {t["table"]: t for system in json.loads(out.getvalue()) for t in system["tables"]}


def test_find_subject_after_an_erasure_shows_the_orders_kept_restricted(world, committed):
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    before = _find("smartphoto")
    assert before["orders"]["rows"] == 2 and before["orders"]["kept"] == 0
    case = drive_to_work(committed, smartphoto, officer, "erasure")
    approve(committed, case, officer)
    finish(committed, case, officer)
    after = _find("smartphoto")
    assert after["accounts"]["rows"] == 0 and after["accounts"]["kept"] == 0
    assert after["orders"]["rows"] == 0 and after["orders"]["kept"] == 2
    assert after["orders"]["marks"]["restricted"] == 2
    out = io.StringIO()
    call_command("find_subject", "--controller", "smartphoto", "--email", SUBJECT.email, stdout=out)
    text = out.getvalue()
    assert "orders: 0 rows + 2 kept after an erasure (found by its recorded keys)" in text
    assert "2 rows in the systems searched" in text
    # Nobody else's address finds them.
    nobody = io.StringIO()
    call_command(
        "find_subject", "--controller", "smartphoto", "--email", "x@example.org", stdout=nobody
    )
    assert "kept after an erasure" not in nobody.getvalue()


# --- B14. Every file of the package is described where the subject reads what was found.


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_manual_export_is_described_in_the_index_and_the_letter(world, committed, language):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer)
    case.language = language
    case.save(update_fields=["language"])
    manual = case.searches.get(kind="manual")
    committed(
        collect.answer_manually,
        manual,
        actor=Actor.officer(officer),
        found=True,
        note_text="Boekhoudpakket doorzocht.",
        file_name="defero-facturen.csv",
        chunks=iter([b"factuur;bedrag\n2024-17;120.00\n"]),
    )
    settle(committed, case, officer)
    archive = unzip(respond(committed, case, officer))
    path = "data/financiele-administratie/defero-facturen.csv"
    assert path in archive.namelist()
    index = html.unescape(archive.read("index.html").decode())
    summary = index[index.index("<table>") : index.index("</table>")]
    row = summary[summary.index("Financiële administratie (boekhouder)") :]
    row = row[: row.index("</tr>")]
    said = {
        "en": "Exported by the department that keeps it",
        "nl": "Geëxporteerd door de afdeling die het bijhoudt",
    }[language]
    assert f"{said}: " in row and path in row
    letter_html = html.unescape(archive.read("letter.html").decode())
    found = letter_html[letter_html.index("<table>") : letter_html.index("</table>")]
    assert "Financiële administratie (boekhouder)" in found and path in found
    assert f"{said}: {path}" in found


# --- D23. No URL of a closed case answers 500: what is gone is said gone (410).


def _fulfilment_urls(ids: dict[str, int], table: str) -> list[str]:
    """Every officer's fulfilment URL (``fulfilment.admin_urls``) whose objects ``ids`` has,
    by the first part of its route (case, search, package, change, notice)."""
    from fulfilment import admin_urls

    urls = []
    for pattern in admin_urls.urlpatterns:
        route = str(pattern.pattern)
        kind = route.split("/")[0]
        if kind in ids:
            filled = route.replace("<int:pk>", str(ids[kind])).replace("<str:table>", table)
            urls.append(f"/admin/fulfilment/{filled}")
    return urls


GONE = "What this search found is no longer kept"


def test_no_officer_fulfilment_url_of_a_closed_case_answers_500(world, committed):
    officer = world["officer"]
    access = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, access, officer)
    table_url = reverse(
        "fulfilment_table", args=[access.searches.get().pk, "leads"]
    )  # the link the case file shows while the response is reviewed
    officer_page = officer_client(officer)
    assert officer_page.get(table_url).status_code == 200
    package = respond(committed, access, officer)
    erasure = drive_to_work(committed, world["controllers"]["smart-site"], officer, "erasure")
    approve(committed, erasure, officer)
    finish(committed, erasure, officer)
    urls = _fulfilment_urls(
        {"case": access.pk, "search": access.searches.get().pk, "package": package.pk},
        "leads",
    ) + _fulfilment_urls(
        {
            "case": erasure.pk,
            "change": erasure.changes.get().pk,
            "notice": erasure.notices.first().pk,
        },
        "leads",
    )
    from fulfilment import admin_urls

    walked = {url.split("/")[3] for url in urls}
    # Every page but the redirect of the old addresses (tested in test_searches.py).
    pages = [p for p in admin_urls.urlpatterns if p.callback is not admin_urls.renamed]
    assert walked == {str(p.pattern).split("/")[0] for p in pages}
    for user in (officer, world["auditor"]):
        client = officer_client(user)
        client.raise_request_exception = False
        for url in urls:
            for method in ("get", "post"):
                response = committed(getattr(client, method), url)
                assert response.status_code < 500, (user.username, method, url)
    # The stale tab of a table under review: the copy is deleted, and the page says so.
    response = officer_page.get(table_url)
    assert response.status_code == 410
    assert GONE in html.unescape(response.content.decode())
    officer_page.cookies["django_language"] = "nl"
    with translation.override("nl"):
        response = officer_page.get(table_url)
    assert response.status_code == 410
    assert "Wat deze zoekopdracht vond, wordt niet meer bewaard" in html.unescape(
        response.content.decode()
    )


def test_a_package_whose_file_went_meanwhile_is_said_gone_and_no_download_recorded(
    world, committed, mailoutbox
):
    """A link withdrawn or expired while a page was open deletes the file: the officer's and
    the subject's downloads answer 410, and no download is recorded."""
    from cases import links
    from fulfilment.searches.package import _path

    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    package = respond(committed, case, officer)
    subject = Client()
    page = reverse("package", args=[case.reference, links.status_token(case)])
    committed(subject.post, page, {"action": "send_code"})
    code = re.search(r"\b(\d{6})\b", mailoutbox[-1].body).group(1)
    _path(package).unlink()  # as end() does after its commit
    response = officer_client(officer).get(reverse("fulfilment_package", args=[package.pk]))
    assert response.status_code == 410
    assert "This package is no longer kept" in html.unescape(response.content.decode())
    response = subject.post(page, {"action": "download", "code": code})
    assert response.status_code == 410
    assert "This download is no longer available" in html.unescape(response.content.decode())
    done = CaseEvent.objects.filter(case=case).values_list("action", flat=True)
    assert "package_downloaded" not in done and "package_viewed" not in done
