"""The subject's journey in a real browser (Debian's Chromium driven by Playwright), in both
languages: form → confirmation link from the sent mail → status page → answer → withdraw."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil

import pytest
from django.core import mail
from django.utils import timezone

from cases.actors import Actor
from cases.models import Case, State
from cases.workflow import perform

from .conftest import require_service
from .procs import PATIENCE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

TEXT = {
    "nl": {
        "make": "Verzoek indienen",
        "name": "Uw naam",
        "email": "Uw e-mailadres",
        "sent": "Kijk in uw e-mail",
        "confirm": "Mijn verzoek bevestigen",
        "answer": "Uw antwoord",
        "send_answer": "Antwoord versturen",
        "answered": "Bedankt, uw antwoord is verzonden.",
        "withdraw_box": "Ja, trek mijn verzoek in",
        "withdraw": "Verzoek intrekken",
        "withdrawn": "U hebt dit verzoek ingetrokken.",
    },
    "en": {
        "make": "Make a request",
        "name": "Your name",
        "email": "Your email address",
        "sent": "Check your email",
        "confirm": "Confirm my request",
        "answer": "Your answer",
        "send_answer": "Send answer",
        "answered": "Thank you, your answer has been sent.",
        "withdraw_box": "Yes, withdraw my request",
        "withdraw": "Withdraw request",
        "withdrawn": "You withdrew this request.",
    },
}


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are ordinary synchronous ones. Only for the test's duration.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    require_service(os.path.exists(CHROMIUM), f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


# serialized_rollback: the flush after a live-server test must not take the migrations' seed data.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_subject_journey_in_the_browser(live_server, browser, language, cast, settings):
    settings.INTAKE_RATE_LIMIT = 0
    text = TEXT[language]
    page = browser.new_page()
    page.set_default_timeout(PATIENCE * 1000)
    page.goto(live_server.url + "/")
    if language == "en":
        page.select_option("#language", "en")
        page.get_by_role("button", name="Wisselen").click()  # the page is Dutch until then
        page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language

    page.get_by_role("link", name="OpJeFoon V.O.F.").click()
    page.get_by_role("link", name=text["make"]).click()

    # Keyboard alone: every control is reachable with Tab, and Enter sends the form.
    page.locator("input[name=right]").first.focus()
    page.keyboard.press("Space")  # selects the focused radio (access)
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.name || document.activeElement.type"))
    assert {"name", "email", "details", "submit"} <= reached
    assert "website" not in reached  # the honeypot is out of the tab order
    page.get_by_label(text["name"]).fill("Jan <b>Jansen</b>")
    page.get_by_label(text["email"]).fill(f"jan-{language}@example.org")
    page.get_by_label(text["email"]).press("Enter")
    page.get_by_role("heading", name=text["sent"]).wait_for()

    case = Case.objects.get(email=f"jan-{language}@example.org")
    assert case.language == language and case.state == State.UNCONFIRMED
    (confirmation,) = [m for m in mail.outbox if m.to == [case.email]]
    link = re.search(r"https?://\S+/confirm/\S+/", confirmation.body).group(0)
    page.goto(live_server.url + path_of(link))
    page.get_by_role("button", name=text["confirm"]).click()
    page.wait_for_url(re.compile(r"/s/DSAR-"))
    assert "<b>" not in page.content().split("<main")[1].replace("&lt;b&gt;", "")

    case.refresh_from_db()
    perform(case, "ask_subject", actor=Actor.officer(cast.officer_a), message="Welk account?")
    page.reload()
    assert page.get_by_text("Welk account?").is_visible()
    page.get_by_label(text["answer"]).fill("Het account met nummer 42.")
    page.get_by_role("button", name=text["send_answer"]).click()
    page.get_by_text(text["answered"]).wait_for()
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS

    page.get_by_label(text["withdraw_box"]).check()
    page.get_by_role("button", name=text["withdraw"]).click()
    page.get_by_text(text["withdrawn"]).first.wait_for()
    case.refresh_from_db()
    assert case.state == State.WITHDRAWN
    page.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_officer_works_a_request_through_verification_in_the_browser(
    live_server, browser, cast, submit
):
    from cases import iddocs

    from .pdfs import MINIMAL_PDF as pdf

    officer = cast.officer_b  # Defero asks an ID copy for access
    officer.set_password("pw-for-tests-2026")
    officer.save()
    urgent = submit(cast.b, confirm=False, received_at=timezone.now() - dt.timedelta(days=20))
    iddocs.store(urgent, iddocs.CheckedDocument(pdf, "application/pdf"))
    urgent = perform(urgent, "confirm_email", actor=Actor.subject())
    later = submit(cast.b, email="later@example.org", right="objection", details="Marketing")

    page = browser.new_page()
    page.set_default_timeout(PATIENCE * 1000)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username").fill("officer_b")
    page.get_by_label("Password").fill("pw-for-tests-2026")
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/admin/dsar/case/")
    rows = page.locator("#result_list tbody tr th a").all_inner_texts()
    assert rows == [urgent.reference, later.reference]  # the most urgent first

    page.get_by_role("link", name=urgent.reference).click()
    with page.expect_download() as download:  # a PDF is downloaded, never rendered here
        page.get_by_role("link", name="Open the ID document").click()
    assert download.value.suggested_filename == f"id-{urgent.reference}.pdf"
    assert open(download.value.path(), "rb").read() == pdf  # noqa: SIM115
    page.get_by_role("link", name="Approve identity").click()
    page.get_by_label("The name on the document matches the request").check()
    page.get_by_role("button", name="Approve identity").click()
    page.get_by_text("Approve identity: done.").wait_for()
    page.get_by_role("link", name="Prepare the response").click()
    page.get_by_label("The response to the subject").fill("Attached is a copy of your data.")
    page.get_by_role("button", name="Prepare the response").click()
    page.get_by_role("link", name="Approve and send the response").click()
    page.get_by_role("button", name="Approve and send the response").click()
    page.get_by_text("Approve and send the response: done.").wait_for()

    urgent.refresh_from_db()
    assert urgent.state == State.COMPLETED
    assert not urgent.id_documents.exists()
    actions = list(urgent.events.values_list("action", flat=True))
    # The mail that carries the decision left after the step's commit, and says so.
    assert actions[-4:] == ["approve_identity", "prepare_response", "complete", "decision_sent"]
    assert violations == []
    page.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_switching_language_keeps_what_was_typed(live_server, browser, loaded_controllers):
    page = browser.new_page()
    page.set_default_timeout(PATIENCE * 1000)
    page.goto(live_server.url + "/c/defero/request/")
    page.locator("input[name=right][value=objection]").check()
    page.get_by_label("Uw naam").fill("Anneke de Vries")
    page.get_by_label("Uw e-mailadres").fill("anneke@example.org")
    page.locator("textarea[name=details]").fill("Geen reclame meer, graag.")
    page.select_option("#language", "en")
    page.get_by_role("button", name="Wisselen").click()
    page.get_by_label("Your name").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_label("Your name").input_value() == "Anneke de Vries"
    assert page.get_by_label("Your email address").input_value() == "anneke@example.org"
    assert page.locator("textarea[name=details]").input_value() == "Geen reclame meer, graag."
    assert page.locator("input[name=right][value=objection]").is_checked()
    page.goto(live_server.url + "/c/defero/request/")  # kept for that one load, then forgotten
    assert page.get_by_label("Your name").input_value() == ""
    page.close()
