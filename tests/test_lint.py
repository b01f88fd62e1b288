"""`lint_policies` and the controller's admin page: where a statement falls short of the GDPR."""

from __future__ import annotations

import io

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


def test_smartphoto_demands_an_id_copy_for_every_request(loaded_controllers):
    findings = lint_controller(loaded_controllers["smartphoto"])
    (id_finding,) = [f for f in findings if f.code.startswith("id-copy")]
    assert id_finding.code == "id-copy-for-every-request"
    assert "§§73–79" in id_finding.reference and "DPG Media" in id_finding.reference
    assert [f.code for f in findings].count("conditional-right") == 3


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
    assert "smartphoto: 5 finding(s)" in text
    assert "[warning] id-copy-for-every-request" in text and "EDPB Guidelines 01/2022" in text
    assert "[error] complaint-not-declared" in text and "GDPR Art. 13(2)(d), 77" in text
    assert "defero" not in text


def test_lint_policies_fail_on_sets_the_exit_status(loaded_controllers):
    with pytest.raises(CommandError) as error:
        call_command("lint_policies", "smartphoto", "--fail-on", "warning", stdout=io.StringIO())
    assert error.value.returncode == 1
    with pytest.raises(CommandError):  # its routine ID copy would pause every request
        call_command("lint_policies", "smartphoto", "--fail-on", "error", stdout=io.StringIO())
    # Without the pause, smartphoto has no errors: --fail-on error passes.
    loaded_controllers["smartphoto"].rights.update(clock_pauses=False)
    call_command("lint_policies", "smartphoto", "--fail-on", "error", stdout=io.StringIO())


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
    assert "A copy of an ID document is demanded for every request" in html
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
