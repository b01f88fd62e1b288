"""Fulfilment in a real browser (Debian's Chromium through Playwright): the officer's search
panel follows the searches without a reload, and the subject downloads the package with the
code the mail brought."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone

from cases import links
from fulfilment.models import Search, SearchStatus
from fulfilment.searches.package import open_package

from .demo_world import drive_to_work, poll_until_settled, respond, settle
from .procs import PATIENCE
from .test_browser import browser, path_of  # noqa: F401 (browser: the fixture)


def watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_search_panel_follows_the_searches_without_a_reload(
    live_server,
    browser,  # noqa: F811
    world,
    committed,
):
    officer = world["officer"]
    officer.set_password("pw-for-tests-2026")
    officer.save()
    case = drive_to_work(committed, world["controllers"]["smartlockr"], officer)
    remote = case.searches.get(kind="http")
    assert remote.status == SearchStatus.REMOTE  # the processor was asked, not yet read

    page = browser.new_page()
    page.set_default_timeout(PATIENCE * 1000)
    violations = watch_csp(page)
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username").fill("officer")
    page.get_by_label("Password").fill("pw-for-tests-2026")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/dsar/case/{case.pk}/change/")
    row = page.locator(f'[data-search="{remote.pk}"]')
    assert "waiting for the processor" in row.inner_text()
    page.evaluate("window.__same_page = true")  # gone if the page reloads

    # The processor's results are read (as the worker would after its callback).
    Search.objects.filter(pk=remote.pk).update(next_attempt_at=timezone.now())
    settle(committed, case, officer)
    row.locator('[data-field="status"]', has_text="done").wait_for()
    assert re.search(r"deliveries: \d+", row.locator('[data-field="found"]').inner_text())
    assert page.evaluate("window.__same_page") is True
    assert violations == []
    page.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_subject_downloads_the_package_with_the_mailed_code(
    live_server,
    browser,  # noqa: F811
    world,
    committed,
):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smartphoto"], officer)
    settle(committed, case, officer)
    package = respond(committed, case, officer)

    page = browser.new_page(accept_downloads=True)
    page.set_default_timeout(PATIENCE * 1000)
    violations = watch_csp(page)
    page.goto(live_server.url + path_of(links.status_url(case)))
    page.get_by_role("link", name="Download my data").click()
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_text("We sent a code to").wait_for()
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    page.get_by_label("Code from the email").fill(code)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == f"{case.reference}-access.zip"
    with open(download.value.path(), "rb") as handle:
        assert handle.read() == b"".join(open_package(package))
    assert case.events.filter(action="package_downloaded").count() == 1
    assert violations == []
    page.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_officer_approves_the_plan_and_follows_the_changes_without_a_reload(
    live_server,
    browser,  # noqa: F811
    world,
    committed,
):
    from fulfilment.changes import plans
    from fulfilment.models import ChangeStatus

    officer = world["officer"]
    officer.set_password("pw-for-tests-2026")
    officer.save()
    case = drive_to_work(committed, world["controllers"]["smartlockr"], officer, "erasure")
    plan = plans.current(case)

    page = browser.new_page()
    page.set_default_timeout(PATIENCE * 1000)
    violations = watch_csp(page)
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username").fill("officer")
    page.get_by_label("Password").fill("pw-for-tests-2026")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/dsar/case/{case.pk}/change/")
    assert plan.sha256 in page.locator(".dsar-changes").inner_text()
    page.get_by_role("link", name="Approve this plan").click()
    assert page.get_by_label(re.compile("SHA-256 of the plan")).input_value() == plan.sha256
    page.get_by_role("button", name=re.compile("^Approve the plan of changes")).click()
    page.wait_for_url(re.compile(rf"/admin/dsar/case/{case.pk}/change/$"))
    remote = case.changes.get(kind="http")
    cell = page.locator(f'[data-change="{remote.pk}"]')
    assert "waiting for the processor" in cell.inner_text()
    page.evaluate("window.__same_page = true")  # gone if the page reloads

    # The processor finishes; the next poll (as beat's sweep would send it) records it.
    poll_until_settled(committed, remote)
    assert remote.status == ChangeStatus.DONE, remote.error
    cell.locator('[data-field="status"]', has_text="done").wait_for()
    assert page.evaluate("window.__same_page") is True
    assert violations == []
    page.close()
