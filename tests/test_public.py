"""The public pages: every controller's own rights and ID rule, from the registry; languages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.graph import mermaid

pytestmark = pytest.mark.django_db


def page(client, name, *args, language="en") -> str:
    client.cookies["django_language"] = language
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def test_the_start_page_lists_every_controller(loaded_controllers, client):
    html = page(client, "home")
    for controller in loaded_controllers.values():
        assert controller.legal_name in html
        assert reverse("controller", args=[controller.slug]) in html


def test_each_controller_page_shows_its_own_declarations(loaded_controllers, client):
    smartlockr = page(client, "controller", "smartlockr")
    assert "Promises to answer within 48 hours" in smartlockr
    assert "Asks for a copy of an ID document" in smartlockr
    # Restriction is not declared by Smartlockr: still the subject's, on the law's terms.
    restriction = smartlockr[smartlockr.index('id="right-restriction"') :]
    restriction = restriction[: restriction.index("</dd>")]
    assert "does not mention this right" in restriction
    assert "Answer within one month at the latest" in restriction

    smartphoto = page(client, "controller", "smartphoto")
    # Erasure, restriction, portability, and objection "wanneer je ernstige en rechtmatige
    # redenen hebt om dit te doen" (5.3).
    assert smartphoto.count("Condition stated by the company") == 4
    assert "met beperkte toezegging" in smartphoto
    assert "Gegevensbeschermingsautoriteit" in smartphoto

    defero = page(client, "controller", "defero")
    assert "Promises to answer within 4 weeks" in defero

    smart_site = page(client, "controller", "smart-site")
    assert "Answer within one month at the latest" in smart_site
    assert "Asks for a copy of an ID document" not in smart_site
    assert "Autoriteit Persoonsgegevens" in smart_site


def test_the_form_offers_every_right_and_an_upload_only_where_asked(loaded_controllers, client):
    contractstatus = page(client, "request_form", "contractstatus")
    assert 'value="access"' in contractstatus
    assert 'value="restriction"' in contractstatus and 'value="portability"' in contractstatus
    assert 'name="id_document"' not in contractstatus

    defero = page(client, "request_form", "defero")
    assert 'name="id_document"' in defero
    assert "KopieID" in defero and "black out" in defero


def test_dutch_is_the_default_and_english_is_a_switch_away(loaded_controllers, client):
    client.cookies.clear()
    dutch = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert dutch["Content-Language"] == "nl"
    assert '<html lang="nl">' in dutch.content.decode()
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    english = client.get(reverse("home"))
    assert english["Content-Language"] == "en"
    assert "Exercise your privacy rights" in english.content.decode()


def test_every_public_string_is_translated_into_dutch(loaded_controllers, client):
    html = page(client, "request_form", "defero", language="nl")
    for dutch in ("Wat wilt u doen?", "Uw naam", "Uw e-mailadres", "Verzoek versturen"):
        assert dutch in html, f"missing: {dutch}"
    for english in ("What do you want to do?", "Your name", "Send request", "black out"):
        assert english not in html, f"untranslated: {english}"


def test_the_readme_draws_the_state_machine_as_the_code_defines_it():
    from django.conf import settings

    readme = (settings.BASE_DIR / "README.md").read_text()
    assert mermaid() in readme, "run `manage.py state_graph` and paste it into the README"


def test_a_status_link_opened_in_a_fresh_browser_speaks_the_request_s_language(
    cast, submit, client
):
    from cases.links import status_path

    case = submit(cast.a, language="en")
    client.cookies.clear()
    response = client.get(status_path(case))
    assert response["Content-Language"] == "en"
    html = response.content.decode()
    assert '<html lang="en">' in html and f"Your request {case.reference}" in html
    client.cookies["django_language"] = "nl"  # the visitor's own choice wins
    response = client.get(status_path(case))
    assert response["Content-Language"] == "nl"
    assert f"Uw verzoek {case.reference}" in response.content.decode()


def test_every_right_can_be_asked_of_every_controller_on_the_law_s_terms(
    loaded_controllers, client
):
    """contractstatus's statement is silent on portability and restriction: they are the
    subject's all the same, answered within a month, with email confirmation only."""
    html = page(client, "request_form", "contractstatus")
    for right in ("portability", "restriction", "automated_decisions", "objection"):
        assert f'value="{right}"' in html
    assert "does not mention this right" in html
    assert 'name="id_document"' not in html


def test_a_right_the_statement_omits_gets_the_law_s_deadline_and_no_id_copy(loaded_controllers):
    from cases.intake import receive_case

    smartlockr = loaded_controllers["smartlockr"]  # 48 hours and an ID copy for what it declares
    case = receive_case(
        controller=smartlockr,
        right="restriction",
        name="Jan",
        email="j@example.org",
        language="nl",
        details="Stop using my data.",
    )
    assert case.declared_deadline is None and not case.needs_id_document
    assert case.effective_deadline == case.statutory_deadline


def test_labels_say_when_a_field_is_required_and_for_what(loaded_controllers, client):
    html = page(client, "request_form", "defero")
    assert "(required for: Rectification (Art. 16), Restriction of processing (Art. 18)" in html
    assert "required for: Access (Art. 15)" in html  # Defero's ID rule is for access only
    smartphoto = page(client, "request_form", "smartphoto")
    # Not for withdrawing consent (3.2: by e-mail, "gratis en zonder motivatie"; Art. 7(3)).
    assert "for some requests" in smartphoto and "for every request" not in smartphoto
    label = smartphoto[smartphoto.index('<label for="id_id_document">') :]
    label = label[: label.index("</label>")]
    assert "Automated decisions (Art. 22)" in label and "Withdrawal of consent" not in label
    assert "national register number" in smartphoto and "BSN" not in smartphoto
    assert "citizen service number (BSN)" in html


def test_a_name_ending_in_a_full_stop_does_not_end_a_sentence_with_two(cast, client, mailoutbox):
    from cases.intake import receive_case
    from cases.links import confirmation_token

    smartlockr = cast.a.__class__.objects.get(slug="smartlockr")  # Smartlockr B.V.
    case = receive_case(
        controller=smartlockr,
        right="objection",
        name="Jan",
        email="j@example.org",
        language="en",
        details="Marketing",
    )
    from django.core import mail as outbox

    from cases.mail import deliver

    for row in case.outgoing_mail.all():
        deliver(row.pk)
    assert outbox.outbox and all(".." not in m.body for m in outbox.outbox)
    html = client.get(reverse("confirm", args=[confirmation_token(case)])).content.decode()
    assert "B.V.." not in html


def test_the_form_says_whether_the_statement_requires_or_allows_blacking_out(
    loaded_controllers, client
):
    assert "requires you to black these out" in page(client, "request_form", "defero")
    assert "allows you to black these out" in page(client, "request_form", "smartlockr")
