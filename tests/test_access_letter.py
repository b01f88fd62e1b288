"""The Art. 15 letter is about this subject (issue 21, part 1): only the categories the searches
found, the recipients of the subject's data by identity, whether automated decisions are taken,
both supervisory authorities, and never "not stated": where the statement is silent, the
response waits until the officer supplies the item (recorded in the case and the chain, reused
for the controller's next request when the officer says so).

Real parts: the demo's five controllers with their systems filled by ``demo.people``, the stub
processor on a socket, the request driven through the one transition path, the package built
and the letter read back from the ZIP (its HTML and its PDF)."""

from __future__ import annotations

import copy
import html
import io
import json
import re
from pathlib import Path

import pytest
import tomli_w
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from pypdf import PdfReader

from cases.actors import Actor
from cases.models import CaseEvent
from cases.workflow import perform
from controllers.models import RecipientIdentity
from controllers.policy import PolicyError
from controllers.systems import dump_systems, load_systems_files
from fulfilment.models import LetterSupplement
from fulfilment.searches import letter

from .demo_world import (
    SLUGS,
    SUPPLIED,
    drive_to_work,
    officer_client,
    respond,
    settle,
    supply_letter_items,
    unzip,
)

pytestmark = pytest.mark.django_db

# Who received Sanne Jansen's data at each controller (the register's identities whose systems
# hold hers), and who did not (their systems hold none of hers).
NAMED = {
    "defero": ["Hosting Noord B.V."],
    "smartlockr": ["Cloudhosting Voorbeeld B.V.", "Mailverwerker Voorbeeld B.V."],
    "smart-site": ["Hosting Voorbeeld B.V.", "Google Ireland Limited"],
    "smartphoto": ["Meta Platforms Ireland Limited", "Drukkerij Voorbeeld NV"],
    "contractstatus": ["Snelbezorg Nederland B.V.", "Klantcontact Services B.V."],
}
# Defero's bookkeeper receives only the financial administration, where nothing was found.
NOT_NAMED = {"defero": ["Boekhoudkantoor Veluwe B.V."]}
AUTHORITY = {"smartphoto": "Gegevensbeschermingsautoriteit"}


def _letter(archive) -> tuple[str, str]:
    """The letter's HTML (entities read) and the text of its PDF."""
    pdf = PdfReader(io.BytesIO(archive.read("letter.pdf")))
    return (
        html.unescape(archive.read("letter.html").decode()),
        " ".join(page.extract_text() for page in pdf.pages),
    )


def _categories_in_package(archive, controller) -> set[str]:
    """The data categories of the tables with rows in the package (read from its files, not
    from the searches' counts), and of a department's export."""
    found = set()
    for system in controller.systems.all():
        spec = system.spec
        for table in spec.get("tables", ()):
            name = f"data/{system.name}/{table['name']}.json"
            if name in archive.namelist() and json.loads(archive.read(name)):
                found |= {column["category"] for column in table["columns"]}
        if any(n.startswith(f"data/{system.name}/") for n in archive.namelist()) and spec.get(
            "categories"
        ):
            found |= set(spec["categories"])
    return found


@pytest.mark.parametrize("slug", SLUGS)
def test_sanne_s_letter_is_about_her_names_recipients_and_never_says_not_stated(
    world, committed, slug
):
    controller, officer = world["controllers"][slug], world["officer"]
    case = drive_to_work(committed, controller, officer)
    settle(committed, case, officer)
    # Every statement is silent somewhere (a recipient that receives data only on occasion, at
    # least): the response waits, and says for what.
    missing = letter.gaps(case)
    assert missing
    with pytest.raises(ValidationError) as refused:
        committed(perform, case, "prepare_response", actor=Actor.officer(officer), response="-")
    assert missing[0].what in refused.value.messages[0]
    archive = unzip(respond(committed, case, officer))  # the officer supplies, then responds
    text, pdf = _letter(archive)

    for words in (text, pdf):
        assert "not stated" not in words.lower()
    # Only the categories found for her, each once, and every one of them.
    headings = {
        html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
        for h in re.findall(r"<h3>(.*?)</h3>", text, re.S)
    }
    expected = _categories_in_package(archive, controller)
    assert headings == expected and expected
    others = set(controller.data_categories.values_list("name", flat=True)) - expected
    for name in others:
        assert f">{name}<" not in text
    # The recipients by identity: those whose systems hold her data, not the others.
    for name in NAMED[slug]:
        assert name in text, name
    for name in NOT_NAMED.get(slug, []):
        assert name not in text
    recipients = text[text.index("2. Who receives") : text.index("3. Transfers")]
    for row in re.findall(r"<tr><td>(.*?)</td>", recipients, re.S)[1:]:
        assert "<strong>" in row or SUPPLIED in row  # a name in every row, never a category
    # (h): whether decisions are taken (declared by Defero; the officer's "none" elsewhere).
    assert "takes no decisions about you based solely on automated processing" in text
    # (f): the lead authority and the subject's own.
    assert AUTHORITY.get(slug, "Autoriteit Persoonsgegevens") in text
    assert "where you live or work" in text and "edpb.europa.eu" in text
    # An English letter marks the statement's Dutch as quotes of the original.
    assert "in their original language (Dutch)" in text
    assert '<q class="quote" lang="nl">' in text
    supplied = CaseEvent.objects.filter(case=case, action="letter_item_supplied")
    assert supplied.count() == len(missing)


def test_a_transfer_outside_the_eea_names_its_safeguard(world, committed):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    text, _ = _letter(unzip(respond(committed, case, officer)))
    transfers = text[text.index("3. Transfers") : text.index("4. Automated")]
    assert "Google Ireland Limited" in transfers and "EU-VS-gegevensprivacykader" in transfers
    assert "Hosting Voorbeeld B.V." not in transfers  # in the EEA


def test_what_an_erasure_keeps_is_in_the_retention_of_its_category(world, committed):
    officer = world["officer"]
    controller = world["controllers"]["smartlockr"]
    case = drive_to_work(committed, controller, officer)
    settle(committed, case, officer)
    assert case.searches.get(system_name="platform").counts.get("invoices")
    text, _ = _letter(unzip(respond(committed, case, officer)))
    assert "Smartlockr-platform — Facturen is kept for 7 more years" in text


def test_the_officer_supplies_what_the_statement_does_not_say_and_it_is_reused(world, committed):
    defero, officer, auditor = world["controllers"]["defero"], world["officer"], world["auditor"]
    case = drive_to_work(committed, defero, officer)
    settle(committed, case, officer)
    page = reverse("fulfilment_letter_items", args=[case.pk])
    client = officer_client(officer)
    listed = client.get(page)
    assert listed.status_code == 200
    keys = {gap.key for gap in letter.gaps(case)}
    # Defero's statement gives the customer administration no purpose (its source it gives).
    assert keys == {"category:Klanten administratie:purposes", "recipient:derden:disclosed"}
    for key in keys:
        assert html.escape(key) in listed.content.decode()
    # The panel of the case file says the letter waits, and links here.
    panel = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert page in panel

    # Bad answers are refused, and nothing is stored.
    purposes = "category:Klanten administratie:purposes"
    for post in (
        {"key": purposes, "text": "  "},
        {"key": purposes, "none": "on"},  # "none" is no purpose
        {"key": "category:Nothing:purposes", "text": "x"},  # not missing
        {"key": "recipient:derden:disclosed", "none": "on", "text": "both"},
    ):
        assert client.post(page, post).status_code == 400, post
    assert not LetterSupplement.objects.exists()
    # An auditor reads, never supplies.
    assert officer_client(auditor).post(page, {"key": purposes, "text": "x"}).status_code == 403

    words = "Het bijhouden van de <klantrelatie>."
    assert client.post(page, {"key": purposes, "text": words, "reuse": "on"}).status_code == 302
    assert client.post(page, {"key": "recipient:derden:disclosed", "none": "on"}).status_code == 302
    assert letter.gaps(case) == []
    event = CaseEvent.objects.filter(case=case, action="letter_item_supplied").first()
    assert event.data["text"] == words and event.data["reuse"] is True
    text, _ = _letter(unzip(respond(committed, case, officer)))
    assert words in text  # as written, and escaped in the HTML
    assert "&lt;klantrelatie&gt;" in unzip(case.packages.last()).read("letter.html").decode()
    assert "none of your data went to it." in text

    # The next request of that controller takes the reusable answer; a disclosure is checked
    # case by case, so it is asked again.
    again = drive_to_work(committed, defero, officer)
    settle(committed, again, officer)
    assert {gap.key for gap in letter.gaps(again)} == {"recipient:derden:disclosed"}


def test_the_auditor_s_case_report_shows_what_the_officer_supplied(world, committed):
    from reports.case_report import render

    from .test_reports import text_of

    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["defero"], officer)
    settle(committed, case, officer)
    supply_letter_items(committed, case, officer)
    report = text_of(render(case, language="en"))
    assert f"Text: {SUPPLIED}" in report and "Answer: none" in report
    assert "Kept for the controller's next requests" in report


def test_a_letter_item_cannot_be_supplied_once_the_response_is_prepared(world, committed):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smartphoto"], officer)
    settle(committed, case, officer)
    respond(committed, case, officer)
    case.refresh_from_db()
    with pytest.raises(ValidationError):
        letter.supply(case, "automated", actor=Actor.officer(officer), none=True)


# --- The register of recipients' identities.


def _shipped(slug: str) -> dict:
    import tomllib

    return tomllib.loads((Path(settings.SYSTEMS_DIR) / f"{slug}.toml").read_text())


def test_the_systems_file_fills_the_register_and_exports_it_back(systems, tmp_path):
    defero = systems["defero"]
    rows = list(defero.recipient_identities.values_list("recipient", "name", "receives"))
    assert rows == [
        ("verwerkers", "Boekhoudkantoor Veluwe B.V.", ["financiele-administratie"]),
        ("verwerkers", "Hosting Noord B.V.", ["klantenadministratie"]),
    ]
    shipped = (Path(settings.SYSTEMS_DIR) / "defero.toml").read_text()
    assert dump_systems(defero) == shipped
    # An edit in the admin is what the next export writes.
    RecipientIdentity.objects.filter(name="Hosting Noord B.V.").update(name="Hosting Zuid B.V.")
    assert 'name = "Hosting Zuid B.V."' in dump_systems(defero)


def test_an_identity_receiving_an_unknown_system_is_refused_and_changes_nothing(systems, tmp_path):
    data = copy.deepcopy(_shipped("defero"))
    data["notify"][0]["identities"][0]["receives"] = ["kassa"]
    path = tmp_path / "defero.toml"
    path.write_text(tomli_w.dumps(data))
    with pytest.raises(PolicyError, match=r"notify\[0\]\.identities\[0\]\.receives\[0\]"):
        load_systems_files([path])
    assert systems["defero"].recipient_identities.count() == 2


def test_an_identity_edited_in_the_admin_belongs_to_a_recipient_of_the_statement(systems, english):
    identity = systems["defero"].recipient_identities.first()
    identity.recipient = "iemand anders"
    with pytest.raises(ValidationError, match="Not a recipient"):
        identity.full_clean()
    identity.recipient, identity.receives = "verwerkers", ["kassa"]
    with pytest.raises(ValidationError, match="Not systems"):
        identity.full_clean()


def test_the_policy_declares_whether_automated_decisions_are_taken(loaded_controllers):
    assert loaded_controllers["defero"].automated_decision_making == "none"
    assert loaded_controllers["smartphoto"].automated_decision_making == ""


def test_an_officer_stops_the_reuse_of_a_supplement_and_the_next_request_asks_again(
    world, committed, django_user_model
):
    from controllers.models import Membership, Role

    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer)
    settle(committed, case, officer)
    supply_letter_items(committed, case, officer)
    respond(committed, case, officer)
    kept = LetterSupplement.objects.get(key="category:Klanten administratie:purposes")
    assert kept.reuse
    page = reverse("admin:fulfilment_lettersupplement_change", args=[kept.pk])
    # Another controller's officer does not see it; the auditor sees it, and changes nothing.
    stranger = django_user_model.objects.create_user("stranger", password="x", is_staff=True)
    Membership.objects.create(
        user=stranger, controller=world["controllers"]["smartphoto"], role=Role.OFFICER
    )
    assert officer_client(stranger).get(page).status_code in (302, 404)
    auditor = officer_client(world["auditor"])
    assert auditor.get(page).status_code == 200
    auditor.post(page, {})
    kept.refresh_from_db()
    assert kept.reuse
    # A second request takes the kept answer and is prepared with it.
    prepared = drive_to_work(committed, defero, officer, email="second@example.org")
    settle(committed, prepared, officer)
    assert kept.key not in {gap.key for gap in letter.gaps(prepared)}
    supply_letter_items(committed, prepared, officer)
    respond(committed, prepared, officer)
    # The officer stops its reuse: the next request asks for it again; the response prepared
    # with it keeps it (it was approved with it).
    assert officer_client(officer).post(page, {}).status_code == 302
    kept.refresh_from_db()
    assert not kept.reuse and kept.reuse_stopped_at is not None
    again = drive_to_work(committed, defero, officer)
    settle(committed, again, officer)
    assert kept.key in {gap.key for gap in letter.gaps(again)}
    assert letter.supplied(prepared)[kept.key] == kept
    # Nor is it made reusable again, nor an answer checked for one request.
    officer_client(officer).post(page, {"reuse": "on"})
    kept.refresh_from_db()
    assert not kept.reuse
    disclosed = LetterSupplement.objects.filter(key__endswith=":disclosed").first()
    assert disclosed is not None and not disclosed.reuse
    page = reverse("admin:fulfilment_lettersupplement_change", args=[disclosed.pk])
    officer_client(officer).post(page, {"reuse": "on"})
    disclosed.refresh_from_db()
    assert not disclosed.reuse
    assert disclosed.key in {gap.key for gap in letter.gaps(again)}


def test_a_dutch_letter_quotes_the_statement_without_calling_it_a_translation(world, committed):
    from cases.intake import receive_case

    from .demo_world import SUBJECT

    officer = world["officer"]
    case = committed(
        receive_case,
        controller=world["controllers"]["smartlockr"],
        right="access",
        name=SUBJECT.name,
        email=SUBJECT.email,
        language="nl",
    )
    case = committed(perform, case, "confirm_email", actor=Actor.subject())
    if case.state != "in_progress":
        case = committed(perform, case, "submit_identity", actor=Actor.subject())
        case = committed(
            perform,
            case,
            "approve_identity",
            actor=Actor.officer(officer),
            record={"name_matches": True},
        )
    settle(committed, case, officer)
    text, _ = _letter(unzip(respond(committed, case, officer)))
    assert "Toegang tot uw persoonsgegevens" in text or "De gegevens die wij over u vonden" in text
    assert "oorspronkelijke taal" not in text and "Teksten tussen « en » zijn citaten" in text
    assert "not stated" not in text.lower() and "niet vermeld" not in text.lower()


def test_a_department_s_export_brings_its_category_its_retention_and_its_recipient(
    world, committed
):
    """Defero's bookkeeper exports the subject's invoices: the financial administration is
    found, with the seven years its systems file keeps it, and the bookkeeper who receives it
    is named."""
    from fulfilment.models import SearchStatus
    from fulfilment.searches import collect

    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["defero"], officer)
    manual = case.searches.get(status=SearchStatus.MANUAL)
    committed(
        collect.answer_manually,
        manual,
        actor=Actor.officer(officer),
        found=True,
        note_text="Exported from the bookkeeping package.",
        file_name="facturen.csv",
        chunks=iter([b"factuur,bedrag\n2025-001,121.00\n"]),
    )
    settle(committed, case, officer)
    text, _ = _letter(unzip(respond(committed, case, officer)))
    assert ">Financiële administratie<" in text
    assert "Financiële administratie (boekhouder) is kept for 7 more years" in text
    assert "Boekhoudkantoor Veluwe B.V." in text


def test_where_the_register_does_not_know_where_a_recipient_is_the_officer_says_it(
    world, committed
):
    officer = world["officer"]
    smartphoto = world["controllers"]["smartphoto"]
    RecipientIdentity.objects.filter(controller=smartphoto, name="Drukkerij Voorbeeld NV").update(
        outside_eea="unknown"
    )
    case = drive_to_work(committed, smartphoto, officer)
    settle(committed, case, officer)
    key = "identity:verwerkers:Drukkerij Voorbeeld NV:location"
    assert key in {gap.key for gap in letter.gaps(case)}
    where = "Established in Kortrijk, Belgium: inside the EEA."
    committed(letter.supply, case, key, actor=Actor.officer(officer), text=where)
    text, _ = _letter(unzip(respond(committed, case, officer)))
    transfers = text[text.index("3. Transfers") : text.index("4. Automated")]
    assert where in transfers and "Meta Platforms Ireland Limited" in transfers


def test_a_recipient_the_register_does_not_place_is_never_said_to_be_inside_the_eea(
    world, committed
):
    """Defero's "derden" (outside the EEA: unknown) receive data only on occasion. When the
    officer says this subject's data went to one, where it is established is asked too, for
    this request only; the letter then lists it under transfers and never says that none of
    the recipients is outside the EEA."""
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer)
    settle(committed, case, officer)
    actor = Actor.officer(officer)
    went = "De Belastingdienst, op een wettelijk verzoek."
    committed(letter.supply, case, "recipient:derden:disclosed", actor=actor, text=went)
    keys = {gap.key for gap in letter.gaps(case)}
    assert "recipient:derden:disclosed:location" in keys
    where = "Nederland, binnen de EER."
    committed(letter.supply, case, "recipient:derden:disclosed:location", actor=actor, text=where)
    kept = LetterSupplement.objects.get(key="recipient:derden:disclosed:location")
    assert not kept.reuse and kept.per_request
    text, _pdf = _letter(unzip(respond(committed, case, officer)))
    transfers = text[text.index("3. Transfers outside") : text.index("4. Automated")]
    assert where in transfers and "None of the recipients" not in transfers
    # Another request takes neither: a disclosure, and where it went, is checked for each.
    again = drive_to_work(committed, defero, officer, email="again@example.org")
    assert not {key for key in letter.supplied(again) if ":disclosed" in key}


def test_where_the_statement_declares_automated_decisions_the_officer_says_if_about_this_subject(
    world, committed
):
    """Art. 15(1)(h) is about the subject: a statement that says such decisions are taken is
    not the answer; the officer checks for each request, and the answer is never reused."""
    from controllers.models import AutomatedDecisionMaking

    smartphoto, officer = world["controllers"]["smartphoto"], world["officer"]
    smartphoto.automated_decision_making = AutomatedDecisionMaking.TAKEN
    smartphoto.save(update_fields=["automated_decision_making"])
    case = drive_to_work(committed, smartphoto, officer)
    settle(committed, case, officer)
    assert letter.AUTOMATED_ABOUT_SUBJECT in {gap.key for gap in letter.gaps(case)}
    logic = "Uw kredietlimiet werd automatisch bepaald op basis van uw betaalgedrag."
    actor = Actor.officer(officer)
    committed(letter.supply, case, letter.AUTOMATED_ABOUT_SUBJECT, actor=actor, text=logic)
    kept = LetterSupplement.objects.get(key=letter.AUTOMATED_ABOUT_SUBJECT)
    assert not kept.reuse and kept.per_request
    text, _pdf = _letter(unzip(respond(committed, case, officer)))
    assert logic in text[text.index("4. Automated") :]
    again = drive_to_work(committed, smartphoto, officer, email="again@example.org")
    assert letter.AUTOMATED_ABOUT_SUBJECT not in letter.supplied(again)
