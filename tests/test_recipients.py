"""The recipients of the subject's data (Art. 19; issue 20, "the record tells the truth"): a
recipient nobody declared a way to reach waits for the officer, who gives an address or records
an exception of Art. 19 with its reason; a recipient that received none of the subject's data is
said to have received none, never "not told"; notices follow every right that changed data
(objection and withdrawal of consent too), saying what happened; a rectification reaches a
processor, through its API or by mail, and its answer is recorded; a processor is instructed, an
independent controller asked; notices and the subject's questions carry the controller's privacy
address as Reply-To, and a recipient's reply is never taken for the subject's; a change only a
processor made tells the other recipients when the processor says it held the subject's data."""

from __future__ import annotations

import html
import sqlite3

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from cases.actors import Actor
from cases.mail import render
from cases.models import CaseEvent, Direction, OutgoingMail, State
from cases.workflow import perform
from fulfilment.changes import completion, execute, plans
from fulfilment.models import ChangeStatus, Notice, NoticeStatus, PlanStatus
from mailin.ingest import ingest

from .demo_world import (
    SUBJECT,
    drive_to_work,
    nothing_disclosed,
    officer_client,
    poll_until_settled,
)
from .procs import until

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

FACEBOOK = "Facebook en/of Instagram"
# Our own texts about recipients, in English: none may reach a Dutch letter.
OUR_REASONS = [
    completion.NOTHING_CHANGED,
    completion.NOTHING_OF_THEIRS,
    completion.RECEIVES_NONE,
    completion.OCCASIONAL,
    completion.UNDECLARED,
    completion.NOT_ASKED,
    completion.PROCESSOR_SILENT,
    "no address to reach this recipient is declared",
]


def approve(committed, case, officer):
    plan = plans.current(case)
    assert plan is not None and plan.status == PlanStatus.DRAFT
    return committed(perform, case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)


def finish(committed, case, officer) -> None:
    actor = Actor.officer(officer)
    case = committed(perform, case, "prepare_response", actor=actor, response="Done.")
    committed(perform, case, "complete", actor=actor)


def letter(case, language: str) -> str:
    case.language = language
    return "\n\n".join(completion.paragraphs(case, plans.current(case)))


def in_language(mail: OutgoingMail, language: str) -> str:
    """A mail's text as it reads in ``language`` (it was sent in the controller's)."""
    mail.language = language
    return render(mail).body


def without(controller, recipient: str) -> None:
    """The systems file as if it named no way to reach ``recipient``."""
    controller.notify = [e for e in controller.notify if e["recipient"] != recipient]
    controller.save(update_fields=["notify"])


def declare(controller, recipient: str, **how) -> None:
    entries = [e for e in controller.notify if e["recipient"] != recipient]
    controller.notify = [*entries, {"recipient": recipient, **how}]
    controller.save(update_fields=["notify"])


def page(client, url: str) -> str:
    """A page of the admin, read as text (the request's language switch kept to itself)."""
    with translation.override(translation.get_language()):
        return html.unescape(client.get(url).content.decode())


def post(committed, client, url: str, data: dict) -> int:
    with translation.override(translation.get_language()):
        return committed(client.post, url, data).status_code


def notices(case) -> dict[str, Notice]:
    return {n.recipient: n for n in plans.current(case).notices.select_related("mail")}


def decide(committed, notice, officer, decision, **kwargs) -> None:
    committed(execute.decide, notice, actor=Actor.officer(officer), decision=decision, **kwargs)


def confirm_owner(committed, case, officer, note: str, *, found: bool) -> None:
    """The officer records the manual system's owner's answer."""
    manual = case.changes.get(kind="manual")
    committed(
        execute.confirm_manual, manual, actor=Actor.officer(officer), note_text=note, found=found
    )


def erase_at_smartphoto(world, committed):
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    case = drive_to_work(committed, smartphoto, officer, "erasure")
    approve(committed, case, officer)
    assert case.changes.get().status == ChangeStatus.DONE
    return case


# --- 1. A recipient without a declared way to reach it waits for the officer.


def test_a_recipient_nobody_declared_a_way_to_reach_blocks_the_response_until_given_an_address(
    world, committed, mailoutbox
):
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    without(smartphoto, FACEBOOK)
    case = erase_at_smartphoto(world, committed)
    facebook = notices(case)[FACEBOOK]
    assert facebook.status == NoticeStatus.UNRESOLVED
    assert facebook.reason == completion.UNDECLARED
    assert not any(m.to == ["privacy@meta.example"] for m in mailoutbox)
    with pytest.raises(ValidationError, match=f"These recipients wait for you.*{FACEBOOK}"):
        perform(case, "prepare_response", actor=Actor.officer(officer), response="x")
    with translation.override("nl"), pytest.raises(ValidationError, match="wachten op u"):
        perform(case, "prepare_response", actor=Actor.officer(officer), response="x")
    # The case file offers the decision; an address that is not one is refused.
    client = officer_client(officer)
    case_file = page(client, reverse("admin:dsar_case_change", args=[case.pk]))
    decide_url = reverse("fulfilment_notice_decide", args=[facebook.pk])
    assert decide_url in case_file and completion.UNDECLARED in case_file
    form = page(client, decide_url)
    assert "Tell it by mail, at the address below" in form
    assert "telling it proves impossible (Art. 19" in form
    assert post(committed, client, decide_url, {"decision": "mail", "address": "nobody"}) == 400
    data = {"decision": "mail", "address": "privacy@fb.example"}
    assert post(committed, client, decide_url, data) == 302
    facebook.refresh_from_db()
    assert facebook.status == NoticeStatus.SENT and facebook.address == "privacy@fb.example"
    assert facebook.decided_by == officer and facebook.decided_at is not None
    mail = facebook.mail
    assert mail.to == "privacy@fb.example" and mail.status == "sent"
    assert any(m.to == ["privacy@fb.example"] for m in mailoutbox)
    event = CaseEvent.objects.get(case=case, action="recipient_decided")
    assert event.actor_kind == "officer" and event.actor == officer
    assert event.data == {"recipient": FACEBOOK, "decision": "mail", "to": "privacy@fb.example"}
    # Its delivery is shown in the case file; it is settled once and for all.
    case_file = page(client, reverse("admin:dsar_case_change", args=[case.pk]))
    assert "privacy@fb.example" in case_file and "mail: sent" in case_file
    with pytest.raises(ValidationError, match="settled already"):
        execute.decide(facebook, actor=Actor.officer(officer), decision="mail", address="a@b.nl")
    nothing_disclosed(committed, case, officer)  # the authorities and partners: occasional
    finish(committed, case, officer)
    assert case.__class__.objects.get(pk=case.pk).state == State.COMPLETED
    english = letter(case, "en")
    told = english.split("We told these recipients of your data (Art. 19 GDPR):")[1]
    told = told.split("\n\n")[0]
    assert f"- {FACEBOOK}" in told and "- verwerkers" in told
    dutch = letter(case, "nl")
    assert "Wij hebben deze ontvangers van uw gegevens ingelicht (art. 19 AVG)" in dutch
    for text in OUR_REASONS:
        assert text not in dutch and text not in english


def test_an_exception_the_officer_records_reaches_the_letter_in_its_language_quoted(
    world, committed
):
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    without(smartphoto, FACEBOOK)
    case = erase_at_smartphoto(world, committed)
    facebook = notices(case)[FACEBOOK]
    with pytest.raises(ValidationError, match="Give the reason"):
        execute.decide(facebook, actor=Actor.officer(officer), decision="disproportionate_effort")
    with pytest.raises(PermissionDenied):
        execute.decide(
            facebook, actor=Actor.officer(world["auditor"]), decision="impossible", note_text="x"
        )
    reason = (
        "De advertentie-account is opgeheven; Meta bewaart geen lijst van geïmporteerde adressen."
    )
    decide(committed, facebook, officer, "disproportionate_effort", note_text=reason)
    facebook.refresh_from_db()
    assert facebook.status == NoticeStatus.UNREACHABLE
    assert facebook.exception == "disproportionate_effort" and facebook.note == reason
    event = CaseEvent.objects.get(case=case, action="recipient_decided")
    assert event.data["decision"] == "disproportionate_effort" and event.data["note"] == reason
    assert event.actor_kind == "officer" and event.actor == officer
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    english = letter(case, "en")
    assert (
        "These recipients were not told, because telling them would involve a "
        f"disproportionate effort (Art. 19 GDPR):\n- {FACEBOOK}: in our words: “{reason}”"
    ) in english
    dutch = letter(case, "nl")
    assert "onevenredige inspanning" in dutch and f"“{reason}”" in dutch
    assert "disproportionate" not in dutch


def test_a_declared_exception_is_quoted_as_the_controller_s_words_in_the_subject_s_language(
    world, committed
):
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "erasure")
    approve(committed, case, officer)
    google = notices(case)["Google (Google Analytics)"]
    assert google.status == NoticeStatus.UNREACHABLE and google.exception == "impossible"
    assert google.note.startswith("Google Analytics ontvangt alleen gepseudonimiseerde")
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    english = letter(case, "en")
    assert (
        "These recipients were not told, because telling them proved impossible (Art. 19 "
        "GDPR):\n- Google (Google Analytics): in our words: “Google Analytics ontvangt"
    ) in english
    dutch = letter(case, "nl")
    assert "onmogelijk bleek (art. 19 AVG)" in dutch
    for text in OUR_REASONS:
        assert text not in dutch


# --- 2. A recipient that received none of the subject's data is not a recipient of it.


def test_an_occasional_recipient_to_whom_nothing_went_reads_as_such_never_as_not_told(
    world, committed
):
    from fulfilment import report

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    confirm_owner(committed, case, officer, "Boekhouder bevestigt.", found=True)
    derden = notices(case)["derden"]
    assert derden.status == NoticeStatus.UNRESOLVED and derden.reason == completion.OCCASIONAL
    form = page(officer_client(officer), reverse("fulfilment_notice_decide", args=[derden.pk]))
    assert "Alleen met uitdrukkelijke toestemming" in form  # when it receives data, quoted
    with pytest.raises(ValidationError, match="how you know"):
        execute.decide(derden, actor=Actor.officer(officer), decision="not_disclosed")
    decide(committed, derden, officer, "not_disclosed", note_text="Geen toestemming gegeven.")
    finish(committed, case, officer)
    english = letter(case, "en")
    assert (
        "None of your data were disclosed to these recipients, so there was nothing to tell "
        "them:\n- derden"
    ) in english
    assert "derden" not in english.split("None of your data were disclosed")[0]
    assert "Geen toestemming gegeven" not in english  # the officer's record, not the letter's
    dutch = letter(case, "nl")
    assert "Aan deze ontvangers zijn geen gegevens van u verstrekt" in dutch
    with translation.override("en"):
        lines = [line for _t, part in report.sections(case) for line in part]
    line = next(x for x in lines if x.startswith("derden:"))
    assert "none of the subject's data disclosed to it" in line
    assert "“Geen toestemming gegeven.”" in line and "decided by officer" in line


def test_a_recipient_of_systems_that_held_nothing_of_the_subject_s_is_known_to_have_none(
    world, committed, mailoutbox
):
    """Defero's bookkeeper, declared as receiving only the books' data: the books held none
    of the subject's (the owner says so), so none went to it, though the customer records
    were erased; nobody has to decide it."""
    defero, officer = world["controllers"]["defero"], world["officer"]
    declare(
        defero,
        "verwerkers",
        email="privacy@boekhouder.example",
        receives=["financiele-administratie"],
    )
    case = drive_to_work(committed, defero, officer, "erasure")
    approve(committed, case, officer)
    confirm_owner(committed, case, officer, "Geen facturen op deze naam.", found=False)
    verwerkers = notices(case)["verwerkers"]
    assert verwerkers.status == NoticeStatus.NOT_DISCLOSED
    assert verwerkers.reason == completion.RECEIVES_NONE
    assert not any(m.to == ["privacy@boekhouder.example"] for m in mailoutbox)
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    assert "so there was nothing to tell them:\n- derden\n- verwerkers" in letter(case, "en")


# --- 3. Notices follow every right that changed data, saying what happened.


def test_defero_s_objection_deletes_the_newsletter_row_and_its_processor_is_told_so(
    world, committed, mailoutbox
):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "objection")
    approve(committed, case, officer)
    crm = case.changes.get(system_name="klantenadministratie")
    assert crm.status == ChangeStatus.DONE and crm.counts == {"nieuwsbrief": 1}
    confirm_owner(committed, case, officer, "Geen marketing in de boeken.", found=False)
    verwerkers = notices(case)["verwerkers"]
    assert verwerkers.status == NoticeStatus.SENT and verwerkers.kind == "processor"
    mail = verwerkers.mail
    assert mail.to == "privacy@boekhouder.example" and mail.language == "nl"
    dutch = in_language(mail, "nl")
    assert "Naar aanleiding van het bezwaar van deze persoon (art. 21 AVG)" in dutch
    assert "de betreffende gegevens verwijderd" in dutch
    assert "Als onze verwerker (art. 28, lid 3, AVG) geven wij u de opdracht" in dutch
    english = in_language(mail, "en")
    assert "At that person's objection (Art. 21 GDPR)" in english
    assert (
        "has stopped this processing of their personal data, as it names it: “Toezending van de "
        "nieuwsbrief van Defero en haar merken (direct marketing)”; and it has deleted the data "
        "concerned." in english
    )
    assert "As our processor (Art. 28(3) GDPR), we instruct you" in english
    assert "unless you must keep it by law" not in english
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    # An objection's recipients are told, though Art. 19 does not name it: not cited.
    assert (
        "We told these recipients of your data:\n- verwerkers: by mail to "
        "privacy@boekhouder.example" in letter(case, "en")
    )
    # Objected again: nothing of the subject's is left to stop, and nobody is told.
    mailoutbox.clear()
    again = drive_to_work(committed, defero, officer, "objection")
    approve(committed, again, officer)
    confirm_owner(committed, again, officer, "Geen marketing in de boeken.", found=False)
    assert {n.status for n in notices(again).values()} == {NoticeStatus.UNREACHABLE}
    assert not any(m.to == ["privacy@boekhouder.example"] for m in mailoutbox)


def test_a_withdrawal_of_consent_tells_the_processor_that_consent_was_withdrawn(world, committed):
    site, officer = world["controllers"]["smart-site"], world["officer"]
    case = drive_to_work(committed, site, officer, "withdraw_consent")
    approve(committed, case, officer)
    hosting = notices(case)[
        "diensten van derden waarmee we een verwerkersovereenkomst hebben afgesloten"
    ]
    english = in_language(hosting.mail, "en")
    assert "That person has withdrawn their consent (Art. 7(3) GDPR)" in english
    assert (
        "has stopped this processing of their personal data that rested on it, as it names it: "
        "“Toezending van de nieuwsbrief, op grond van uw toestemming”." in english
    )
    assert "deleted" not in english  # a date was set, nothing deleted
    dutch = in_language(hosting.mail, "nl")
    assert "heeft diens toestemming ingetrokken (art. 7, lid 3, AVG)" in dutch
    # An independent controller is asked, and may have its own ground.
    group = notices(case)["dochterondernemingen en gelieerde bedrijven"]
    english = in_language(group.mail, "en")
    assert "Please stop that processing" in english
    assert "unless you have a legal ground of your own for it" in english


# --- 4. A rectification reaches the processor.


def _rectify_at_smartlockr(world, committed, fields):
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    case = drive_to_work(committed, smartlockr, officer, "rectification")
    actor = Actor.officer(officer)
    for system, table, column, value in fields:
        plans.add_correction(
            case, actor=actor, system=system, table=table, column=column, value=value
        )
    committed(plans.make, case, actor=actor)
    approve(committed, case, officer)
    return case


def test_a_rectification_reaches_the_processor_through_its_api_which_corrects_its_copy(
    world, committed
):
    new = "+31 6 1234 0000"
    case = _rectify_at_smartlockr(
        world,
        committed,
        [
            ("platform", "users", "phone", new),
            ("maillog", "deliveries", "phone_2fa", new),
        ],
    )
    plan = plans.current(case)
    maillog = next(s for s in plan.body["systems"] if s["system"] == "maillog")
    assert maillog["task"] == "rectification"
    remote = case.changes.get(kind="http")
    poll_until_settled(committed, remote)
    assert remote.status == ChangeStatus.DONE, remote.error
    assert int(remote.reported["affected_records"]) > 0
    db = sqlite3.connect(world["folder"] / "processor-smartlockr-maillog.sqlite3")
    try:
        phones = {
            phone
            for (phone,) in db.execute(
                "SELECT phone_2fa FROM deliveries WHERE lower(recipient) = ?", (SUBJECT.email,)
            )
        }
    finally:
        db.close()
    assert phones == {new}  # the processor no longer keeps the old number
    verwerkers = notices(case)["verwerkers"]
    assert verwerkers.channel == "system" and verwerkers.status == NoticeStatus.SENT
    # What it answered is recorded, by whom and when.
    committed(
        execute.record_answer,
        verwerkers,
        actor=Actor.officer(world["officer"]),
        answer="Verwerker bevestigt per mail: nummer aangepast.",
    )
    verwerkers.refresh_from_db()
    assert verwerkers.status == NoticeStatus.ANSWERED


def test_a_rectification_the_processor_s_api_is_not_given_reaches_it_by_mail_with_the_values(
    world, committed, mailoutbox
):
    new = "+31 6 1234 0000"
    case = _rectify_at_smartlockr(world, committed, [("platform", "users", "phone", new)])
    assert not case.changes.filter(kind="http").exists()  # its API is not asked
    verwerkers = notices(case)["verwerkers"]
    assert verwerkers.status == NoticeStatus.SENT
    assert verwerkers.mail.to == "privacy@mailverwerker.example"
    english = in_language(verwerkers.mail, "en")
    assert "has rectified their personal data (Art. 16 GDPR)" in english
    assert f"The corrected data:\n- Telefoon: {new}" in english
    assert "As our processor (Art. 28(3) GDPR), we instruct you to correct" in english
    assert f"Telefoon: {new}" in in_language(verwerkers.mail, "nl")
    # The officer records what it answered.
    client = officer_client(world["officer"])
    url = reverse("fulfilment_notice_answer", args=[verwerkers.pk])
    assert post(committed, client, url, {"answer": "Aangepast op 3 december."}) == 302
    verwerkers.refresh_from_db()
    assert verwerkers.status == NoticeStatus.ANSWERED
    assert "recipient_answered" in case.events.values_list("action", flat=True)


# --- 5. A processor is instructed; an independent controller asked.


def test_a_processor_is_instructed_and_a_third_party_asked_with_its_own_duties_in_mind(
    world, committed
):
    case = erase_at_smartphoto(world, committed)
    told = notices(case)
    printer, facebook = told["verwerkers"], told[FACEBOOK]
    assert printer.kind == "processor" and facebook.kind == "third_party"
    english = in_language(printer.mail, "en")
    assert "You process personal data of the person below on behalf of" in english
    # smartphoto keeps the orders under a ground: the processor keeps its copy restricted too.
    assert (
        "As our processor (Art. 28(3) GDPR), we instruct you to do the same with the data of "
        "this person that you process for us: erase what we erased;" in english
    )
    assert "unless you must keep it by law" not in english
    assert "Instruction to our processor" in render(printer.mail).subject
    dutch = in_language(printer.mail, "nl")
    assert "geven wij u de opdracht" in dutch and "tenzij u ze wettelijk" not in dutch
    english = in_language(facebook.mail, "en")
    assert "has disclosed personal data of the person below to you" in english
    assert (
        "Please erase what you received from us of the data of this person that we erased "
        "(listed above), unless you must keep it by law" in english
    )
    assert "Notice under Art. 19 GDPR" in render(facebook.mail).subject
    dutch = in_language(facebook.mail, "nl")
    assert "tenzij u ze wettelijk moet bewaren" in dutch


# --- 6. Reply-To, and a recipient's reply is not the subject's.


def test_notices_and_questions_carry_the_privacy_address_and_a_recipient_s_reply_stays_apart(
    world, committed, mailoutbox
):
    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    privacy = smartphoto.privacy_emails[0]
    case = erase_at_smartphoto(world, committed)
    facebook = notices(case)[FACEBOOK]
    sent = next(m for m in mailoutbox if m.to == ["privacy@meta.example"])
    assert sent.reply_to == [privacy]
    assert f"(it goes to {privacy}), keeping {case.reference} in its subject" in (
        in_language(facebook.mail, "en")
    )
    # The recipient answers, quoting the reference: mail in keeps it apart, as a fact.
    raw = (
        f"From: Meta Privacy <privacy@meta.example>\r\nTo: {privacy}\r\n"
        f"Subject: Re: Notice under Art. 19 GDPR ({case.reference})\r\n"
        "Message-ID: <answer-1@meta.example>\r\n\r\nWe deleted the audience entry.\r\n"
    ).encode()
    inbound = committed(ingest, raw)
    assert inbound.outcome == "unmatched" and inbound.case == case
    assert not case.messages.filter(direction=Direction.FROM_SUBJECT).exists()
    assert "mail_reply" not in case.events.values_list("action", flat=True)
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    # The officer sees it under the recipient, and records its answer.
    case_file = page(officer_client(officer), reverse("admin:dsar_case_change", args=[case.pk]))
    row = case_file.split(f'data-notice="{facebook.pk}"')[1].split("</tr>")[0]
    assert "Mail from this address quoting the request" in row
    assert reverse("admin:dsar_inboundmail_change", args=[inbound.pk]) in row
    # A question to the subject asks for an answer too: a reply goes to the privacy address.
    mailoutbox.clear()
    committed(perform, case, "ask_subject", actor=Actor.officer(officer), message="Which account?")
    question = next(m for m in mailoutbox if m.to == [SUBJECT.email])
    assert question.reply_to == [privacy]


# --- The gap: a change only a processor made.


def _only_at_the_processor(world) -> None:
    """The subject gone from Smartlockr's own platform: only its processor's log holds them."""
    db = sqlite3.connect(world["folder"] / "smartlockr-platform.sqlite3")
    with db:
        (user,) = db.execute(
            "SELECT id FROM users WHERE lower(email) = ?", (SUBJECT.email,)
        ).fetchone()
        db.execute("DELETE FROM invoices WHERE user_id = ?", (user,))
        db.execute("DELETE FROM users WHERE id = ?", (user,))
    db.close()


def _erased_at_the_processor(world, committed):
    """An erasure at Smartlockr whose only change is its processor's; its third parties
    declared with an address, as receiving the data of every system."""
    smartlockr, officer = world["controllers"]["smartlockr"], world["officer"]
    _only_at_the_processor(world)
    declare(smartlockr, "derden", email="privacy@derde.example")
    case = drive_to_work(committed, smartlockr, officer, "erasure")
    approve(committed, case, officer)
    return case, case.changes.get(kind="http")


def test_a_change_only_a_processor_made_tells_the_other_recipients_when_it_says_it_held_data(
    world, committed, mailoutbox
):
    officer = world["officer"]
    case, remote = _erased_at_the_processor(world, committed)
    poll_until_settled(committed, remote)
    assert int(remote.reported["affected_records"]) > 0
    assert completion.effect(remote)
    told = notices(case)
    assert told["verwerkers"].status == NoticeStatus.SENT  # its own request
    assert told["derden"].status == NoticeStatus.SENT
    assert any(m.to == ["privacy@derde.example"] for m in mailoutbox)
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    assert "has erased your personal data as follows" in letter(case, "en")


def test_a_processor_that_does_not_say_what_it_held_leaves_the_recipients_to_the_officer(
    world, committed, mailoutbox
):
    officer = world["officer"]
    case, remote = _erased_at_the_processor(world, committed)
    state = world["folder"] / "processor-requests.sqlite3"

    def finished() -> bool:
        db = sqlite3.connect(state)
        try:
            row = db.execute(
                "SELECT status FROM requests WHERE id = ?", (remote.remote_id,)
            ).fetchone()
        finally:
            db.close()
        return bool(row) and row[0] == "completed"

    until(finished, "the processor to finish the erasure")
    # A processor that reports completion, and not what it held.
    db = sqlite3.connect(state)
    with db:
        db.execute("UPDATE requests SET affected = NULL WHERE id = ?", (remote.remote_id,))
    db.close()
    poll_until_settled(committed, remote)
    assert "affected_records" not in remote.reported
    assert not completion.effect(remote)
    derden = notices(case)["derden"]
    assert derden.status == NoticeStatus.UNRESOLVED
    assert derden.reason == completion.PROCESSOR_SILENT
    assert not any(m.to == ["privacy@derde.example"] for m in mailoutbox)
    # The officer asked the processor, and tells the recipient at its declared address.
    decide(committed, derden, officer, "mail", address=derden.address)
    derden.refresh_from_db()
    assert derden.status == NoticeStatus.SENT
    assert any(m.to == ["privacy@derde.example"] for m in mailoutbox)
    # The letter claims no erasure the record does not show.
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    assert "has handled your request as follows" in letter(case, "en")


# --- A notice by mail tells its recipient when the mail has left, not when it is queued.


def test_a_notice_is_told_when_its_mail_left_and_waits_again_if_it_bounced(
    world, committed, monkeypatch
):
    """The broker is down when the changes settle: the notices' mail stays queued. Until it
    leaves the recipients are "being mailed", the response waits, and nothing says "told"; once
    it leaves they are told, at that moment; one that bounces waits for the officer again."""
    from cases import mail as outgoing
    from cases.mail import deliver, record_delivery

    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    case = drive_to_work(committed, smartphoto, officer, "erasure")

    def broker_down(*args, **kwargs):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(outgoing.send_mail, "delay", broker_down)
    approve(committed, case, officer)
    monkeypatch.undo()
    assert case.changes.get().status == ChangeStatus.DONE
    mailed = {n.recipient: n for n in plans.current(case).notices.filter(mail__isnull=False)}
    assert mailed, "the erasure mails its recipients"
    queued = [n for n in mailed.values() if n.mail.status == "queued"]
    assert queued and all(n.status == NoticeStatus.MAILING for n in queued)
    with pytest.raises(ValidationError, match="have not left yet"):
        perform(case, "prepare_response", actor=Actor.officer(officer), response="x")
    first, *rest = queued
    committed(deliver, first.mail.pk)
    first.refresh_from_db()
    assert first.status == NoticeStatus.SENT and first.sent_at == first.mail.sent_at
    told = CaseEvent.objects.get(case=case, action="recipient_told")
    assert told.data["recipient"] == first.recipient and told.at == first.sent_at
    for notice in rest:
        committed(deliver, notice.mail.pk)
    # The provider reports the first one bounced: that recipient was not told after all.
    OutgoingMail.objects.filter(pk=first.mail_id).update(provider_message_id="bounce-1")
    committed(
        record_delivery, message_id="bounce-1", event_type="bounced", esp_name="x", timestamp=None
    )
    first.refresh_from_db()
    assert first.status == NoticeStatus.UNRESOLVED and first.reason == execute.NOTICE_UNDELIVERED
    assert CaseEvent.objects.filter(case=case, action="notice_undelivered").exists()
    with pytest.raises(ValidationError, match="These recipients wait for you"):
        perform(case, "prepare_response", actor=Actor.officer(officer), response="x")
    # The officer gives another address: mailed again, told once it leaves (eagerly here).
    decide(committed, first, officer, execute.TELL_BY_MAIL, address="privacy@other.example")
    first.refresh_from_db()
    assert first.status == NoticeStatus.SENT and first.mail.to == "privacy@other.example"
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    assert first.recipient in letter(case, "en")


def bounce(committed, notice: Notice) -> None:
    """The provider reports the notice's mail bounced (after it left)."""
    from cases.mail import record_delivery

    OutgoingMail.objects.filter(pk=notice.mail_id).update(provider_message_id=f"b-{notice.pk}")
    committed(
        record_delivery,
        message_id=f"b-{notice.pk}",
        event_type="bounced",
        esp_name="x",
        timestamp=None,
    )


def test_a_notice_that_bounces_after_preparing_holds_the_letter_back_until_decided(
    world, committed
):
    """The response is prepared with every recipient told; then a notice bounces. Sending
    the response waits for the officer's word on that recipient, so the letter names it."""
    case = erase_at_smartphoto(world, committed)
    officer, actor = world["officer"], Actor.officer(world["officer"])
    nothing_disclosed(committed, case, officer)
    case = committed(perform, case, "prepare_response", actor=actor, response="Done.")
    mailed = plans.current(case).notices.filter(status=NoticeStatus.SENT, mail__isnull=False)
    notice = mailed.first()
    bounce(committed, notice)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.UNRESOLVED
    with pytest.raises(ValidationError, match="These recipients wait for you"):
        perform(case, "complete", actor=actor)
    decide(
        committed,
        notice,
        officer,
        execute.TOLD_OTHERWISE,
        note_text="Phoned their privacy desk on 3 March.",
    )
    committed(perform, case, "complete", actor=actor)
    assert f"- {notice.recipient}" in letter(case, "en").split("We told these recipients")[1]


def test_a_notice_that_bounces_after_the_response_is_mailed_to_the_officers(
    world, committed, mailoutbox
):
    case = erase_at_smartphoto(world, committed)
    officer = world["officer"]
    officer.email = "officer@smartphoto.example"
    officer.save()
    nothing_disclosed(committed, case, officer)
    finish(committed, case, officer)
    notice = plans.current(case).notices.filter(status=NoticeStatus.SENT, mail__isnull=False)[0]
    before = len(mailoutbox)
    bounce(committed, notice)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.UNRESOLVED
    told = [m for m in mailoutbox[before:] if "did not arrive" in m.subject]
    assert told and {t for m in told for t in m.to} == {"officer@smartphoto.example"}
    body = told[0].body
    assert f"The notice (Art. 19 GDPR) to {notice.recipient} at {notice.address}" in body
    assert 'the mail provider reports "bounced"' in body
    assert "The response has already been sent to the subject." in body
    assert f"/admin/dsar/case/{case.pk}/change/" in body
    mail = OutgoingMail.objects.get(case=case, kind="notice_undelivered")
    assert "De kennisgeving (art. 19 AVG) aan" in in_language(mail, "nl")


def test_a_mail_that_is_no_notice_leaves_the_notices_alone_without_a_query():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    mail = OutgoingMail(pk=1, kind="confirm", to="x@example.org")
    with CaptureQueriesContext(connection) as queries:
        execute.mail_left(None, mail=mail, outcome="sent")
        execute.mail_left(None, mail=mail, outcome="undelivered")
    assert len(queries) == 0


def test_settling_the_notices_asks_the_record_once_whatever_the_number_of_recipients(
    world, committed
):
    """Telling the recipients reads what was done once, not once a recipient: the queries of
    ``settle`` are the same for two recipients as for all of them (each mailed notice adds
    only its own mail row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    case = erase_at_smartphoto(world, committed)
    plan = plans.current(case)

    def settled() -> int:
        Notice.objects.filter(plan=plan).update(
            status=NoticeStatus.PENDING, mail=None, reason="", sent_at=None
        )
        with CaptureQueriesContext(connection) as queries:
            execute.settle(plan.pk)
        mailed = plan.notices.filter(status=NoticeStatus.MAILING).count()
        assert mailed  # some are mailed, the others are settled without mail
        inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "dsar_outgoingmail"')]
        assert len(inserts) == mailed
        return len(queries) - len(inserts)

    every = plan.notices.count()
    assert every >= 5
    many = settled()
    mailed = plan.notices.filter(mail__isnull=False).values_list("pk", flat=True)[:1]
    other = plan.notices.filter(mail__isnull=True).values_list("pk", flat=True)[:1]
    plan.notices.exclude(pk__in=[*mailed, *other]).delete()
    assert plan.notices.count() == 2
    assert settled() == many
