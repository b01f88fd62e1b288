"""Issue 21, parts 2-3: the lawful refusal grounds per right, held by ``perform`` whoever calls
it; "no data held" answered, not refused; the clock paused only for doubt about identity or to
clarify a request, with the reason recorded; lint flags a rule that would pause every request."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from cases import iddocs
from cases.actors import Actor
from cases.models import Case, CaseEvent, ObjectionTo, RefusalGround, State, Suspension
from cases.models.grounds import (
    LEGACY_GROUNDS,
    PARTIAL_GROUNDS,
    REFUSAL_GROUNDS,
    ground_label,
)
from cases.workflow import perform
from controllers.lint import lint_controller
from controllers.models import Right

from .cast import make_cast
from .pdfs import MINIMAL_PDF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

G = RefusalGround
EVIDENCE = "Six identical requests from this address this month."


def refuse(case: Case, officer, ground: str, **extra) -> Case:
    arguments = {"reason": "The reasons.", **extra}
    if ground == G.UNFOUNDED_OR_EXCESSIVE:
        arguments.setdefault("evidence", EVIDENCE)
    return perform(case, "refuse", actor=Actor.officer(officer), ground=ground, **arguments)


# --- The table.


def test_the_table_gives_each_right_its_own_grounds_and_no_catch_all():
    every = {G.UNFOUNDED_OR_EXCESSIVE, G.CANNOT_IDENTIFY, G.IDENTITY_NOT_CONFIRMED}
    for right in Right.values:
        grounds = set(REFUSAL_GROUNDS[right])
        assert every <= grounds, right  # Art. 12(5), 11(2), 12(6) for every right
        assert not grounds & LEGACY_GROUNDS, right  # no "other", no catch-all
        assert G.RIGHTS_OF_OTHERS not in grounds, right  # Art. 15(4) withholds, never refuses
    erasure = {g for g in REFUSAL_GROUNDS[Right.ERASURE] if "17(3)" in str(g.label)}
    assert len(erasure) == 5  # Art. 17(3)(a)-(e), each its own ground
    assert set(REFUSAL_GROUNDS[Right.WITHDRAW_CONSENT]) == every  # Art. 7(3): nothing else
    # Art. 41 UAVG (and Art. 23 as the issue reads it) reaches Arts. 12-21, not Art. 22.
    assert set(REFUSAL_GROUNDS[Right.AUTOMATED_DECISIONS]) == every
    assert G.RIGHTS_OF_OTHERS in PARTIAL_GROUNDS[Right.ACCESS]
    assert G.RIGHTS_OF_OTHERS not in PARTIAL_GROUNDS[Right.ERASURE]


@pytest.mark.parametrize("right", Right.values)
def test_perform_refuses_every_ground_the_law_does_not_give_for_the_right(cast, submit, right):
    case = submit(cast.a, right=right)
    unlawful = [g for g in RefusalGround if g not in REFUSAL_GROUNDS[right]]
    assert unlawful
    for ground in unlawful:
        with pytest.raises(ValidationError) as error:
            refuse(case, cast.officer_a, ground)
        text = " ".join(error.value.messages)
        # The message names the right and the ground.
        assert str(Right(right).label) in text and str(ground.label) in text, (ground, text)
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS and case.refusal_ground == ""
    assert not CaseEvent.objects.filter(case=case, action="refuse").exists()
    # A ground the law gives goes through.
    case = refuse(case, cast.officer_a, G.CANNOT_IDENTIFY)
    assert case.state == State.REFUSED and case.refusal_ground == G.CANNOT_IDENTIFY


def test_access_is_never_refused_on_the_rights_of_others_nor_on_an_erasure_exception(cast, submit):
    case = submit(cast.a)
    with pytest.raises(ValidationError, match=r"withholds what concerns others"):
        refuse(case, cast.officer_a, G.RIGHTS_OF_OTHERS)
    with pytest.raises(ValidationError, match=r"not a lawful ground to refuse Access"):
        refuse(case, cast.officer_a, G.ERASURE_LEGAL_CLAIMS)
    with pytest.raises(ValidationError, match=r"no longer a ground"):
        refuse(case, cast.officer_a, G.OTHER)


def test_part_of_an_access_answer_is_withheld_for_others_but_not_an_erasure(cast, submit):
    officer = Actor.officer(cast.officer_a)
    access = submit(cast.a)
    perform(access, "prepare_response", actor=officer, response="Most of it.")
    access = perform(
        access,
        "complete",
        actor=officer,
        partial_ground=G.RIGHTS_OF_OTHERS,
        partial_reason="Mails that name your neighbour are left out.",
    )
    assert access.partial_refusal and access.refusal_ground == G.RIGHTS_OF_OTHERS
    erasure = submit(cast.a, right=Right.ERASURE, email="e@example.org")
    perform(erasure, "prepare_response", actor=officer, response="Erased.")
    for ground, words in [
        (G.RIGHTS_OF_OTHERS, "no ground to refuse a request for Erasure"),
        (G.CANNOT_IDENTIFY, "concerns the whole request"),
    ]:
        with pytest.raises(ValidationError, match=words):
            perform(erasure, "complete", actor=officer, partial_ground=ground, partial_reason="x")
    erasure.refresh_from_db()
    assert erasure.state == State.READY


def test_art_12_5_needs_its_evidence_kept_in_the_record_and_not_sent(cast, submit, committed):
    case = submit(cast.a)
    with pytest.raises(ValidationError, match=r"Record the evidence"):
        refuse(case, cast.officer_a, G.UNFOUNDED_OR_EXCESSIVE, evidence=" ")
    case = committed(refuse, case, cast.officer_a, G.UNFOUNDED_OR_EXCESSIVE)
    assert case.refusal_evidence == EVIDENCE
    assert CaseEvent.objects.get(case=case, action="refuse").data["evidence"] == EVIDENCE
    assert EVIDENCE not in mail.outbox[-1].body  # for the record, not for the subject


def test_withdrawing_consent_is_refused_only_on_identity_or_art_12_5(cast, submit):
    case = submit(cast.a, right=Right.WITHDRAW_CONSENT)
    for ground in (G.NATIONAL_LAW, G.COMPELLING_GROUNDS, G.OTHER, G.NOT_APPLICABLE):
        with pytest.raises(ValidationError, match=r"Withdrawal of consent"):
            refuse(case, cast.officer_a, ground)
    assert refuse(case, cast.officer_a, G.UNFOUNDED_OR_EXCESSIVE).state == State.REFUSED


# --- Objection: Art. 21(3).


def test_an_objection_to_direct_marketing_said_at_intake_is_never_refused_on_art_21_1(
    cast, submit, committed
):
    case = submit(cast.a, right=Right.OBJECTION, objection_to=ObjectionTo.DIRECT_MARKETING)
    assert case.objection_to == ObjectionTo.DIRECT_MARKETING
    for ground in (G.COMPELLING_GROUNDS, G.OBJECTION_LEGAL_CLAIMS, G.NATIONAL_LAW):
        with pytest.raises(ValidationError, match=r"direct marketing is absolute \(Art. 21\(3\)\)"):
            refuse(case, cast.officer_a, ground)
    # The officer cannot take direct marketing out of it.
    with pytest.raises(ValidationError, match="cannot be taken out"):
        perform(
            case,
            "record_objection",
            actor=Actor.officer(cast.officer_a),
            objection_to=ObjectionTo.PARTICULAR_SITUATION,
        )
    # Nor partly refuse it on those grounds when it is to direct marketing alone.
    officer = Actor.officer(cast.officer_a)
    perform(case, "prepare_response", actor=officer, response="The newsletter is stopped.")
    with pytest.raises(ValidationError, match=r"Art. 21\(3\)"):
        perform(
            case, "complete", actor=officer, partial_ground=G.COMPELLING_GROUNDS, partial_reason="x"
        )
    case.refresh_from_db()
    assert case.state == State.READY


def test_an_unrecorded_objection_is_refused_on_art_21_1_only_once_recorded(cast, submit):
    case = submit(cast.a, right=Right.OBJECTION)
    assert case.objection_to == ""
    with pytest.raises(ValidationError, match=r"Record first what the objection is to"):
        refuse(case, cast.officer_a, G.COMPELLING_GROUNDS)
    officer = Actor.officer(cast.officer_a)
    case = perform(
        case, "record_objection", actor=officer, objection_to=ObjectionTo.PARTICULAR_SITUATION
    )
    assert case.state == State.IN_PROGRESS
    event = CaseEvent.objects.filter(case=case).last()
    assert event.action == "record_objection" and event.data["objection_to"] == (
        "particular_situation"
    )
    # Widened to direct marketing too, part may still be refused on Art. 21(1), not all of it.
    case = perform(case, "record_objection", actor=officer, objection_to=ObjectionTo.BOTH)
    with pytest.raises(ValidationError, match=r"Art. 21\(3\)"):
        refuse(case, cast.officer_a, G.COMPELLING_GROUNDS)
    perform(case, "prepare_response", actor=officer, response="Marketing stopped.")
    case = perform(
        case,
        "complete",
        actor=officer,
        partial_ground=G.COMPELLING_GROUNDS,
        partial_reason="Fraud detection goes on.",
    )
    assert case.state == State.COMPLETED and case.refusal_ground == G.COMPELLING_GROUNDS


def test_an_objection_on_the_subject_s_situation_may_be_refused_on_compelling_grounds(cast, submit):
    case = submit(cast.a, right=Right.OBJECTION, objection_to=ObjectionTo.PARTICULAR_SITUATION)
    case = refuse(case, cast.officer_a, G.COMPELLING_GROUNDS)
    assert case.state == State.REFUSED


def test_the_public_form_asks_what_an_objection_is_to(loaded_controllers, client, committed):
    url = reverse("request_form", args=["smart-site"])
    fields = {"right": "objection", "name": "Jan", "email": "jan@example.org", "details": "Stop"}
    response = client.post(url, fields)
    assert response.status_code == 400 and Case.objects.count() == 0
    response = committed(client.post, url, {**fields, "objection_to": "direct_marketing"})
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.objection_to == ObjectionTo.DIRECT_MARKETING
    assert case.events.get(action="receive").data["objection_to"] == "direct_marketing"


# --- What the officer is offered and the subject is told.


def test_the_refusal_form_offers_only_the_right_s_lawful_grounds(cast, submit, client):
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    for right in (Right.ACCESS, Right.ERASURE, Right.WITHDRAW_CONSENT):
        case = submit(cast.a, right=right, email=f"{right}@example.org")
        page = client.get(reverse("admin:dsar_case_step", args=[case.pk, "refuse"]))
        offered = set(re.findall(r'<option value="([a-z_0-9]+)"', page.content.decode()))
        assert offered == {g.value for g in REFUSAL_GROUNDS[right]}, right
        assert "No data of the subject held" in page.content.decode()


def test_a_national_law_restriction_names_the_country_s_provision_in_both_languages(
    loaded_controllers, cast, submit, committed
):
    case = committed(refuse, submit(cast.a), cast.officer_a, G.NATIONAL_LAW)
    assert "art. 41 Uitvoeringswet" in mail.outbox[-1].body  # Smart-Site is Dutch
    with translation.override("nl"):
        assert "Een beperking in nationaal recht" in ground_label(G.NATIONAL_LAW, "NL")
    assert "30 July 2018" in ground_label(G.NATIONAL_LAW, "BE")
    assert case.refusal_ground_label == ground_label(G.NATIONAL_LAW, "NL")


def test_a_belgian_refusal_on_national_law_names_the_law_of_30_july_2018(
    loaded_controllers, submit, committed
):
    be = make_cast(loaded_controllers, a="smartphoto")
    case = submit(be.a, language="nl")
    committed(refuse, case, be.officer_a, G.NATIONAL_LAW)
    body = mail.outbox[-1].body
    assert "30 juli 2018" in body and "Grond:" in body


def test_a_case_refused_on_a_retired_ground_still_reads(cast, submit, client):
    case = submit(cast.a)
    case = refuse(case, cast.officer_a, G.CANNOT_IDENTIFY)
    Case.objects.filter(pk=case.pk).update(refusal_ground="other")  # as an older version left it
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert "Other (explained in the text) (earlier ground)" in html


# --- No data held: an answer.


def test_no_data_held_is_a_completed_answer_without_a_complaint_notice(cast, submit, committed):
    case = submit(cast.a, language="nl")
    officer = Actor.officer(cast.officer_a)
    case = committed(perform, case, "answer_no_data", actor=officer)
    assert case.state == State.READY and "geen persoonsgegevens" in case.response
    case = committed(perform, case, "complete", actor=officer)
    assert case.state == State.COMPLETED and case.refusal_ground == ""
    letter = mail.outbox[-1].body
    assert "geen persoonsgegevens" in letter
    assert case.controller.supervisory_authority.complaint_url not in letter


# --- The clock.


def test_a_clarifying_question_pauses_with_its_reason_and_another_question_does_not(cast, submit):
    officer = Actor.officer(cast.officer_a)
    case = submit(cast.a)
    case = perform(case, "ask_question", actor=officer, message="Do you still use the app?")
    assert case.state == State.AWAITING_SUBJECT and case.paused_since is None
    case = perform(case, "answer", actor=Actor.subject(), message="Yes.")
    assert not Suspension.objects.filter(case=case).exists() and case.paused_days == 0
    case = perform(case, "ask_subject", actor=officer, message="Which decision do you mean?")
    assert case.paused_since is not None and case.pause_reason == "clarification"
    case = perform(case, "answer", actor=Actor.subject(), message="The loan.")
    assert case.pause_reason == "" and Suspension.objects.get(case=case).reason == "clarification"


def test_proof_of_identity_pauses_only_on_a_stated_doubt(cast, submit):
    officer = Actor.officer(cast.officer_a)
    case = submit(cast.a)  # Smart-Site checks identity by email
    with pytest.raises(ValidationError, match=r"reasonable doubt"):
        perform(case, "ask_identity", actor=officer, message="Send your ID.")
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    case = perform(
        case,
        "ask_identity",
        actor=officer,
        message="Please confirm your customer number.",
        doubt="The request comes from an address we do not know.",
    )
    assert case.paused_since is not None and case.pause_reason == "identity_doubt"
    event = CaseEvent.objects.filter(case=case).last()
    assert event.data["clock_paused"] == "identity_doubt" and event.data["doubt"]


def test_waiting_for_an_id_copy_the_controller_asks_of_everyone_does_not_pause(cast, submit):
    case = submit(cast.b)  # Defero demands an ID copy with every access request
    assert case.state == State.AWAITING_IDENTITY and case.paused_since is None
    copy = iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf")
    case = perform(case, "submit_identity", actor=Actor.subject(), id_document=copy)
    deadline = case.effective_deadline
    # The copy is unreadable: asking for it again is the same routine demand.
    case = perform(case, "ask_identity", actor=Actor.officer(cast.officer_b), message="Again.")
    assert case.state == State.AWAITING_IDENTITY
    assert case.paused_since is None and case.effective_deadline == deadline
    # A doubt about this subject (the name on the copy is another) is no routine: it pauses.
    case = perform(case, "submit_identity", actor=Actor.subject(), id_document=copy)
    case = perform(
        case,
        "ask_identity",
        actor=Actor.officer(cast.officer_b),
        message="Whose card is this?",
        doubt="The name on the card is not the requester's.",
    )
    assert case.pause_reason == "identity_doubt" and case.paused_since is not None


def test_the_case_file_and_the_case_report_show_why_the_clock_was_paused(cast, submit, client):
    from reports.case_report import render

    officer = Actor.officer(cast.officer_a)
    case = submit(cast.a)
    perform(case, "ask_subject", actor=officer, message="Which decision?")
    case = perform(case, "answer", actor=Actor.subject(), message="The loan.")
    perform(case, "ask_identity", actor=officer, message="Customer number?", doubt="New address.")
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert "Clarification of a request whose scope is unclear" in html
    assert "Reasonable doubt about identity (Art. 12(6))" in html
    case.refresh_from_db()
    pdf = render(case, language="en")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    assert "Clarification of a request whose scope is unclear" in text
    assert "Reasonable doubt about identity" in text


# --- Lint.


def test_lint_flags_a_rule_that_would_pause_every_request(loaded_controllers):
    defero = loaded_controllers["defero"]  # an ID copy for every access request, clock pauses
    found = [f for f in lint_controller(defero) if f.code == "routine-wait-pauses-clock"]
    assert len(found) == 1 and found[0].severity == "error"
    assert "Access (Art. 15)" in found[0].message and "12(6)" in found[0].reference
    defero.rights.filter(right=Right.ACCESS).update(clock_pauses=False)
    assert "routine-wait-pauses-clock" not in {f.code for f in lint_controller(defero)}
    smart_site = loaded_controllers["smart-site"]  # email verification: nothing to wait for
    assert "routine-wait-pauses-clock" not in {f.code for f in lint_controller(smart_site)}


def test_where_the_systems_market_to_the_subject_only_an_objection_to_other_use_is_refused(
    world, committed
):
    """smartphoto's webshop sends the subject its newsletter: an objection not recorded as one
    to other processing only is never refused on Art. 21(1) (fulfilment checks the systems);
    recorded so, it may be, for the marketing is not what the subject objects to."""
    from .demo_world import drive_to_work

    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    case = drive_to_work(committed, smartphoto, officer, "objection")
    actor = Actor.officer(officer)
    for ground in (G.OBJECTION_LEGAL_CLAIMS, G.NATIONAL_LAW):
        with pytest.raises(ValidationError, match="absolute"):
            perform(case, "refuse", actor=actor, ground=ground, reason="x")
    case = perform(
        case, "record_objection", actor=actor, objection_to=ObjectionTo.PARTICULAR_SITUATION
    )
    case = perform(
        case, "refuse", actor=actor, ground=G.OBJECTION_LEGAL_CLAIMS, reason="A pending claim."
    )
    assert case.state == State.REFUSED


def test_smartphoto_asks_no_id_copy_to_stop_direct_marketing_but_does_for_other_objections(
    loaded_controllers, client, committed
):
    """smartphoto 3.2: a direct-marketing objection is made by e-mail, "gratis en zonder
    motivatie"; its rule for other objections (5.3) asks an ID copy. The form, the case and
    the page that explains the rights follow the declaration's rule for direct marketing."""
    client.cookies["django_language"] = "en"
    url = reverse("request_form", args=["smartphoto"])
    fields = {"right": "objection", "name": "Jan", "email": "jan@example.org", "details": "Stop"}
    for objection_to in ("particular_situation", "both"):
        response = client.post(url, {**fields, "objection_to": objection_to})
        assert response.status_code == 400, objection_to
        assert "asks for a copy of an ID document" in response.content.decode()
    assert Case.objects.count() == 0
    response = committed(client.post, url, {**fields, "objection_to": "direct_marketing"})
    assert response.status_code == 302
    case = Case.objects.get()
    assert not case.needs_id_document and not case.id_documents.exists()
    case.objection_to = ObjectionTo.BOTH
    assert case.needs_id_document  # the other part of the objection follows 5.3's rule
    form = client.get(url).content.decode()
    label = form[form.index('<label for="id_id_document">') :]
    assert "Objection (Art. 21) (not to direct marketing only)" in label[: label.index("</label>")]
    rights = client.get(reverse("controller", args=["smartphoto"])).content.decode()
    assert "Not for an objection to direct marketing only." in rights


@pytest.mark.parametrize("right", [Right.RECTIFICATION, Right.ERASURE, Right.ACCESS])
def test_no_data_held_is_never_the_officer_s_word_where_the_systems_are_searched(
    world, committed, right
):
    """Defero declares systems: before (and whatever) they found, "we searched and found
    nothing" is not the officer's to say; the searches or the plan answer."""
    from .demo_world import drive_to_work

    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["defero"], officer, right)
    with pytest.raises(ValidationError, match="searches of the systems"):
        perform(case, "answer_no_data", actor=Actor.officer(officer))
    case.refresh_from_db()
    assert case.state != State.READY and case.response == ""


def test_national_law_is_no_ground_where_no_provision_is_recorded_for_the_country():
    """Art. 23(2): the restriction is a provision of law, named to the subject. The legal clock
    knows NL and BE only today; a country added later without its provision is neither
    offered the ground nor can it be recorded."""
    from cases.forms import ground_choices
    from cases.models.grounds import check_ground

    with pytest.raises(ValidationError, match=r"No restriction in national law .*\(DE\)"):
        check_ground(right=Right.ACCESS, ground=G.NATIONAL_LAW, reason="x", country="DE")
    check_ground(right=Right.ACCESS, ground=G.NATIONAL_LAW, reason="x", country="NL")
    offered = {value for value, _ in ground_choices(Right.ACCESS, country="DE")}
    assert G.NATIONAL_LAW.value not in offered and G.CANNOT_IDENTIFY.value in offered
    assert G.NATIONAL_LAW.value in {v for v, _ in ground_choices(Right.ACCESS, country="BE")}


def test_once_identity_is_accepted_more_proof_takes_a_stated_doubt_even_where_all_send_a_copy(
    loaded_controllers, submit, committed
):
    """Defero asks every access request for an ID copy; re-asking while it is reviewed (an
    unreadable scan) needs no doubt, but after the copy was accepted it is more proof (Art.
    12(6)): only on a doubt stated."""
    from .cast import make_cast

    cast = make_cast(loaded_controllers, a="defero")
    officer = Actor.officer(cast.officer_a)
    case = submit(cast.a, right=Right.ACCESS)
    assert case.needs_id_document and case.state == State.AWAITING_IDENTITY
    copy = iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf")
    case = perform(case, "submit_identity", actor=Actor.subject(), id_document=copy)
    assert case.state == State.IDENTITY_REVIEW
    case = perform(case, "ask_identity", actor=officer, message="Unreadable: send it again.")
    assert case.state == State.AWAITING_IDENTITY and case.paused_since is None
    case = perform(case, "submit_identity", actor=Actor.subject(), id_document=copy)
    case = perform(case, "approve_identity", actor=officer, record={"name_matches": True})
    assert case.state == State.IN_PROGRESS
    with pytest.raises(ValidationError, match=r"reasonable doubt"):
        perform(case, "ask_identity", actor=officer, message="Send it again.")
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
