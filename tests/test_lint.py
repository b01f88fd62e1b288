"""`lint_policies` and the controller's admin page: where a statement falls short of the GDPR."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from controllers.lint import lint_controller
from controllers.models import Offer, Right, Verification
from controllers.policy import policy_data

from .forms import form_data

pytestmark = pytest.mark.usefixtures("english")


def codes(controller) -> list[str]:
    return [finding.code for finding in lint_controller(controller)]


def test_smartphoto_demands_an_id_copy_for_every_request_but_stopping(loaded_controllers):
    findings = lint_controller(loaded_controllers["smartphoto"])
    (id_finding,) = [f for f in findings if f.code.startswith("id-copy")]
    assert id_finding.code == "id-copy-demanded"
    assert "§§73–79" in id_finding.reference and "DPG Media" in id_finding.reference
    assert "Objection (Art. 21)" in id_finding.message
    assert "Withdrawal of consent" not in id_finding.message
    # Erasure, restriction, portability and (5.3) objection are declared with a condition.
    assert [f.code for f in findings].count("conditional-right") == 4


@pytest.mark.parametrize("slug", ["smartlockr", "defero"])
def test_an_id_copy_for_access_only_is_flagged_for_access(loaded_controllers, slug):
    (finding,) = [
        f for f in lint_controller(loaded_controllers[slug]) if f.code.startswith("id-copy")
    ]
    assert finding.code == "id-copy-demanded"
    assert "Access (Art. 15)" in finding.message and "Erasure" not in finding.message


def test_undeclared_rights_and_complaint_are_errors(loaded_controllers):
    findings = lint_controller(loaded_controllers["contractstatus"])
    missing = [f.message for f in findings if f.code == "right-not-declared"]
    assert any("Art. 18" in m for m in missing) and any("Art. 20" in m for m in missing)
    assert "complaint-not-declared" in [f.code for f in findings]
    assert "withdraw-consent-not-declared" in [f.code for f in findings]
    assert [f.severity for f in findings] == sorted(
        (f.severity for f in findings), key=["error", "warning", "info"].index
    )


def test_statements_that_declare_everything_have_no_errors_for_it(loaded_controllers):
    smartphoto = codes(loaded_controllers["smartphoto"])
    assert "right-not-declared" not in smartphoto
    assert "complaint-not-declared" not in smartphoto
    assert "no-contact-channel" not in smartphoto


@pytest.mark.parametrize(
    ("amount", "unit", "flagged"),
    [
        (6, "weeks", True),
        (2, "months", True),
        (30, "days", True),  # longer than February
        (4, "weeks", False),
        (28, "days", False),
        (1, "months", False),
        (48, "hours", False),
    ],
)
def test_a_promise_slower_than_the_law_is_flagged(loaded_controllers, amount, unit, flagged):
    controller = loaded_controllers["defero"]
    controller.rights.filter(right=Right.ERASURE).update(promise_amount=amount, promise_unit=unit)
    assert ("promise-slower-than-law" in codes(controller)) is flagged


def test_no_contact_channel_is_an_error(loaded_controllers):
    controller = loaded_controllers["smartlockr"]
    controller.privacy_emails = []
    controller.postal_address = ""
    assert "no-contact-channel" in codes(controller)
    controller.postal_address = "Postbus 1, 1000 AA Amsterdam"
    assert "no-contact-channel" not in codes(controller)


def test_an_id_copy_for_every_offered_right_is_the_stronger_finding(loaded_controllers):
    controller = loaded_controllers["defero"]
    controller.rights.filter(offer__in=[Offer.OFFERED, Offer.CONDITIONAL]).update(
        verification=Verification.ID_DOCUMENT
    )
    assert "id-copy-for-every-request" in codes(controller)
    controller.rights.update(verification=Verification.EMAIL)
    assert not [c for c in codes(controller) if c.startswith("id-copy")]


def test_lint_policies_prints_each_finding_with_its_reference(loaded_controllers):
    out = io.StringIO()
    call_command("lint_policies", "smartphoto", "contractstatus", stdout=out)
    text = out.getvalue()
    assert "smartphoto: 7 finding(s)" in text
    assert "[warning] id-copy-demanded" in text and "EDPB Guidelines 01/2022" in text
    # Each finding names the controller, the rule, the quoted passage and the article.
    assert (
        "smartphoto: [error] exclusive-court: The statement gives one court exclusive jurisdiction."
    ) in text
    assert '"De rechtbanken van Gent zijn exclusief bevoegd' in text
    assert "(GDPR Art. 79(2))" in text
    assert "[error] routine-wait-pauses-clock" in text
    assert "[error] complaint-not-declared" in text and "GDPR Art. 13(2)(d), 77" in text
    assert "defero" not in text


def test_lint_policies_fail_on_sets_the_exit_status(loaded_controllers):
    with pytest.raises(CommandError) as error:
        call_command("lint_policies", "smartphoto", "--fail-on", "warning", stdout=io.StringIO())
    assert error.value.returncode == 1
    # smartphoto's exclusive court clause and its routine ID copy pausing the clock are errors.
    with pytest.raises(CommandError):
        call_command("lint_policies", "smartphoto", "--fail-on", "error", stdout=io.StringIO())
    # Smartlockr's errors are the undeclared restriction and the routine ID copy that would
    # pause every request: with both put right, --fail-on error passes.
    smartlockr = loaded_controllers["smartlockr"]
    smartlockr.rights.filter(right=Right.RESTRICTION).update(offer=Offer.OFFERED)
    with pytest.raises(CommandError):
        call_command("lint_policies", "smartlockr", "--fail-on", "error", stdout=io.StringIO())
    smartlockr.rights.update(clock_pauses=False)
    call_command("lint_policies", "smartlockr", "--fail-on", "error", stdout=io.StringIO())


def test_lint_policies_refuses_an_unknown_controller(loaded_controllers):
    with pytest.raises(CommandError, match="unknown controller"):
        call_command("lint_policies", "acme")


def test_the_admin_shows_the_findings_on_the_controller_page_escaped(loaded_controllers, client):
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-long-enough")
    client.force_login(admin)
    client.cookies["django_language"] = "en"
    controller = loaded_controllers["smartphoto"]
    controller.rights.filter(right=Right.ERASURE).update(condition="<script>alert(1)</script>")
    page = client.get(reverse("admin:controllers_controller_change", args=[controller.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Where the statement falls short of the GDPR" in html
    assert "id-copy" not in html  # codes are for the command line; the page shows the message
    assert "A copy of an ID document is demanded for: Access (Art. 15)" in html
    assert "De rechtbanken van Gent zijn exclusief bevoegd" in html  # the quoted passage
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


def test_controllers_are_editable_in_the_admin(loaded_controllers, client):
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-long-enough")
    client.force_login(admin)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("admin:controllers_controller_changelist"))
    assert page.status_code == 200
    for controller in loaded_controllers.values():
        assert controller.legal_name in page.content.decode()

    controller = loaded_controllers["defero"]
    url = reverse("admin:controllers_controller_change", args=[controller.pk])
    data = form_data(client.get(url).content.decode(), "controller_form")
    before = policy_data(controller)
    data["legal_name"] = "Defero B.V."
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    controller.refresh_from_db()
    after = policy_data(controller)
    assert after.pop("legal_name") == "Defero B.V."
    before.pop("legal_name")
    assert after == before  # the form round-trips everything else, inlines included


def test_an_invalid_edit_in_the_admin_changes_nothing(loaded_controllers, client):
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-long-enough")
    client.force_login(admin)
    client.cookies["django_language"] = "en"
    controller = loaded_controllers["smartlockr"]
    url = reverse("admin:controllers_controller_change", args=[controller.pk])
    data = form_data(client.get(url).content.decode(), "controller_form")
    before = policy_data(controller)
    data["legal_name"] = "Renamed"
    data["time_zone"] = "Mars/Olympus"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "is not an IANA time zone" in response.content.decode()
    controller.refresh_from_db()
    assert policy_data(controller) == before


def test_the_controller_s_own_interests_are_no_ground_to_limit_a_right(loaded_controllers):
    findings = [f for f in lint_controller(loaded_controllers["smart-site"])]
    own = {
        f.message.split(" is made subject")[0]: f
        for f in findings
        if f.code == "own-interests-limit-a-right"
    }
    assert own["Access (Art. 15)"].severity == "error"
    assert "Art. 15(4)" in own["Access (Art. 15)"].message
    assert own["Objection (Art. 21)"].severity == "warning"
    assert "Art. 21(3)" in own["Objection (Art. 21)"].message
    # smartphoto's condition names the law's own grounds, not the controller's interests.
    assert not [
        f
        for f in lint_controller(loaded_controllers["smartphoto"])
        if f.code == "own-interests-limit-a-right"
    ]


# --- What the statement's own words get wrong (issue 21 §4): read from statements/.


def _found(controller, code: str) -> list:
    return [f for f in lint_controller(controller) if f.code == code]


def test_consent_by_use_or_visit_is_an_error_quoting_the_statement(loaded_controllers):
    (contractstatus,) = _found(loaded_controllers["contractstatus"], "consent-by-use")
    assert contractstatus.severity == "error"
    assert contractstatus.quote.startswith("Door middel van het bezoeken van")
    assert "geeft u toestemming" in contractstatus.quote
    assert contractstatus.reference == "GDPR Art. 4(11), 7; recital 32"
    assert contractstatus.controller == "contractstatus"
    (site,) = _found(loaded_controllers["smart-site"], "consent-by-use")
    assert site.quote.startswith("Wanneer u gebruikmaakt van de diensten van Smart-Site")
    # smartphoto asks for cookie consent at the first visit: no consent by use.
    for slug in ("smartphoto", "defero", "smartlockr"):
        assert not _found(loaded_controllers[slug], "consent-by-use"), slug


def test_an_exclusive_court_clause_is_an_error_against_art_79_2(loaded_controllers):
    (finding,) = _found(loaded_controllers["smartphoto"], "exclusive-court")
    assert finding.severity == "error" and finding.reference == "GDPR Art. 79(2)"
    assert finding.quote.startswith("De rechtbanken van Gent zijn exclusief bevoegd")
    for slug in ("smart-site", "contractstatus", "defero", "smartlockr"):
        assert not _found(loaded_controllers[slug], "exclusive-court"), slug


def test_an_id_copy_to_withdraw_consent_or_stop_direct_marketing_is_an_error(
    loaded_controllers,
):
    controller = loaded_controllers["smartphoto"]
    assert not _found(controller, "id-copy-to-stop")  # 3.2: by e-mail, without an ID copy
    # As the file read before issue 21: 5.7's ID copy for every right, nothing apart.
    rule = controller.declaration(Right.ACCESS).verification_quote
    controller.rights.filter(right=Right.WITHDRAW_CONSENT).update(
        verification=Verification.ID_DOCUMENT, verification_quote=rule
    )
    controller.rights.filter(right=Right.OBJECTION).update(
        marketing_verification="", marketing_verification_quote=""
    )
    findings = _found(controller, "id-copy-to-stop")
    assert [f.severity for f in findings] == ["error", "error"]
    assert "withdrawing consent" in findings[0].message and "Art. 7(3)" in findings[0].reference
    assert "direct marketing" in findings[1].message and "Art. 21" in findings[1].reference
    assert all("kopie van jouw identiteitskaart" in f.quote for f in findings)
    # A separate rule for direct marketing that asks an ID copy is as wrong.
    controller.rights.filter(right=Right.OBJECTION).update(
        verification=Verification.EMAIL, marketing_verification=Verification.ID_DOCUMENT
    )
    assert len(_found(controller, "id-copy-to-stop")) == 2


def test_retention_without_a_period_or_criteria_is_flagged(loaded_controllers):
    site = _found(loaded_controllers["smart-site"], "retention-without-criteria")
    assert len(site) == 2 and {f.severity for f in site} == {"warning"}
    assert site[0].quote.startswith("We bewaren uw persoonsgegevens zolang dat nodig is")
    assert "Art. 13(2)(a)" in site[0].reference
    (defero,) = _found(loaded_controllers["defero"], "retention-without-criteria")
    assert "Persoonsgegevens die wij verwerken" in defero.message  # the two tables have 7 years
    assert not _found(loaded_controllers["smartphoto"], "retention-without-criteria")
    assert not _found(loaded_controllers["smartlockr"], "retention-without-criteria")


def test_the_shipped_policies_quote_their_statements_faithfully(loaded_controllers):
    for controller in loaded_controllers.values():
        assert not _found(controller, "quote-not-faithful"), controller.slug
        assert not _found(controller, "statement-not-kept"), controller.slug


def test_a_sixth_controller_is_linted_from_its_data_alone(loaded_controllers, settings, tmp_path):
    """Onboarded by data: its policy and its statement, no code. The same rules read them."""
    import shutil
    import tomllib

    import tomli_w

    from controllers.policy import load_policy_files

    policies = tmp_path / "policies"
    (policies / "statements").mkdir(parents=True)
    (policies / "statements" / "acme.txt").write_text(
        "Privacyverklaring Acme\n\nDoor het gebruik van onze\napp geeft u toestemming voor "
        "de verwerking van uw gegevens. Wij bewaren uw gegevens zolang als nodig is.\n\n"
        # Consent by a click, for the use of the data: no finding.
        "Door op akkoord te klikken geeft u toestemming voor het gebruik van uw e-mailadres.\n\n"
        "Alleen de rechtbank te Utrecht is bij uitsluiting bevoegd.\n"
    )
    data = tomllib.loads((Path(settings.POLICY_DIR) / "defero.toml").read_text())
    data.update(slug="acme", legal_name="Acme B.V.", statement_source="acme.txt")
    data["data_categories"] = [
        {"name": "Klanten", "retention": "Wij bewaren uw gegevens zolang als nodig is."}
    ]
    path = policies / "acme.toml"
    path.write_text(tomli_w.dumps(data))
    (acme,) = load_policy_files([path])
    settings.POLICY_DIR = policies
    findings = {f.code: f for f in lint_controller(acme)}
    assert findings["consent-by-use"].quote == (
        "Door het gebruik van onze app geeft u toestemming voor de verwerking van uw gegevens."
    )
    assert [f.code for f in lint_controller(acme)].count("consent-by-use") == 1
    assert findings["exclusive-court"].quote.startswith("Alleen de rechtbank te Utrecht")
    assert findings["retention-without-criteria"].quote == (
        "Wij bewaren uw gegevens zolang als nodig is."
    )
    # Defero's words are not Acme's: each quote of the copied file is reported, by key.
    unfaithful = [f for f in lint_controller(acme) if f.code == "quote-not-faithful"]
    assert unfaithful and all(f.controller == "acme" for f in unfaithful)
    assert any("complaint_right" in f.message for f in unfaithful)
    # Without its statement the words cannot be checked, and lint says so.
    shutil.rmtree(policies / "statements")
    codes_without = [f.code for f in lint_controller(acme)]
    assert "statement-not-kept" in codes_without and "consent-by-use" not in codes_without


def test_a_possible_transfer_declared_as_certain_is_flagged(loaded_controllers):
    """One rule (controllers/policies/README.md): "die mogelijk in andere rechtsgebieden ...
    zijn gevestigd" is unknown, as Smartlockr's "Het kan zijn ..." is."""
    controller = loaded_controllers["smart-site"]
    assert not _found(controller, "possible-transfer-as-certain")
    # As the file read before issue 21.
    controller.recipients.filter(name="vertrouwde externe leveranciers").update(outside_eea="yes")
    (finding,) = _found(controller, "possible-transfer-as-certain")
    assert finding.severity == "warning" and "vertrouwde externe leveranciers" in finding.message
    assert "die mogelijk in andere rechtsgebieden over de hele wereld zijn gevestigd" in (
        finding.quote
    )
    assert finding.reference == "GDPR Art. 13(1)(f), 15(2)"
    for slug in ("smartlockr", "smartphoto", "defero", "contractstatus"):
        assert not _found(loaded_controllers[slug], "possible-transfer-as-certain"), slug
