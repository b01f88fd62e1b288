"""The public pages: every controller's own rights and ID rule, from the registry; languages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dsar.graph import mermaid

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
    assert "Restriction of processing" not in smartlockr  # not declared by Smartlockr

    smartphoto = page(client, "controller", "smartphoto")
    assert smartphoto.count("Condition stated by the company") == 3
    assert "met beperkte toezegging" in smartphoto
    assert "Gegevensbeschermingsautoriteit" in smartphoto

    defero = page(client, "controller", "defero")
    assert "Promises to answer within 4 weeks" in defero

    smart_site = page(client, "controller", "smart-site")
    assert "Answer within one month at the latest" in smart_site
    assert "Asks for a copy of an ID document" not in smart_site
    assert "Autoriteit Persoonsgegevens" in smart_site


def test_the_form_offers_only_declared_rights_and_an_upload_only_where_asked(
    loaded_controllers, client
):
    contractstatus = page(client, "request_form", "contractstatus")
    assert 'value="access"' in contractstatus
    assert (
        'value="restriction"' not in contractstatus and 'value="portability"' not in contractstatus
    )
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
    assert "Uw verzoek" in html or "verzoek" in html
    for english in ("What do you want to do?", "Your name", "Send request", "black out"):
        assert english not in html, f"untranslated: {english}"


def test_the_readme_draws_the_state_machine_as_the_code_defines_it():
    from django.conf import settings

    readme = (settings.BASE_DIR / "README.md").read_text()
    assert mermaid() in readme, "run `manage.py state_graph` and paste it into the README"
