"""Fulfilment end to end, in process: the demo's five controllers, their systems filled by
``demo.people`` and the stub processor serving on a real port, a request driven through the one
transition path, the package built, released and downloaded with a mailed code.

Real parts: SQLite databases of the demo systems, an HTTP processor on a socket, the ZIP and the
PDF read back with zipfile and pypdf. Celery tasks run eagerly after commit (conftest)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from cases import links
from cases.actors import Actor
from cases.models import CaseEvent, OutgoingMail, State
from cases.workflow import perform
from controllers.models import Membership, Role
from controllers.systems import spec_of
from fulfilment.models import DownloadCode, PackageStatus, SearchStatus
from fulfilment.searches import collect, delivery
from fulfilment.searches.package import expire, open_package, package_of

from .demo_world import (
    SLUGS,
    SUBJECT,
    actions,
    drive_to_work,
    officer_client,
    other_people,
    respond,
    settle,
    supply_letter_items,
    unzip,
)


@pytest.mark.parametrize("slug", SLUGS)
def test_each_controller_delivers_the_subject_s_data_and_nobody_else_s(world, committed, slug):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"][slug], officer)
    assert case.searches.count() == world["controllers"][slug].systems.count() > 0
    settle(committed, case, officer)
    package = respond(committed, case, officer)
    assert package.status == PackageStatus.RELEASED
    assert package.expires_at > timezone.now() + dt.timedelta(days=6)

    archive = unzip(package)
    names = archive.namelist()
    assert {"index.html", "letter.html", "letter.pdf", "manifest.json"} <= set(names)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["reference"] == case.reference
    # Every member but the manifest is listed with its real hash and size.
    assert set(manifest["files"]) == set(names) - {"manifest.json"}
    for name, entry in manifest["files"].items():
        content = archive.read(name)
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], name
        assert len(content) == entry["size"], name
    assert hashlib.sha256(archive.read("manifest.json")).hexdigest() == package.manifest_sha256

    data = b"".join(archive.read(n) for n in names if n.startswith("data/"))
    assert SUBJECT.email.encode() in data
    everything = b"".join(archive.read(n) for n in names).decode("utf-8", "replace")
    leaked = {address for address in other_people(world["folder"]) if address in everything}
    assert not leaked

    letter = PdfReader(io.BytesIO(archive.read("letter.pdf")))
    text = " ".join(page.extract_text() for page in letter.pages)
    assert case.reference in text and "Art. 15" in text
    assert "Complaints" in text

    recorded = actions(case)
    assert recorded.count("search_started") == 1
    assert recorded.count("system_searched") + recorded.count("manual_answered") == (
        case.searches.count()
    )
    # The package is released by the step that completes, then the mail carrying it leaves.
    assert recorded[-2:] == ["package_released", "decision_sent"] and "package_built" in recorded


def test_a_portability_package_holds_only_what_the_subject_provided(world, committed):
    officer = world["officer"]
    controller = world["controllers"]["smart-site"]
    case = drive_to_work(committed, controller, officer, right="portability")
    settle(committed, case, officer)
    archive = unzip(respond(committed, case, officer))
    names = archive.namelist()
    assert "letter.pdf" not in names and not any(n.startswith("data/") for n in names)
    provided = {
        table.name: {c.name for c in table.provided}
        for system in controller.systems.all()
        for table in spec_of(system.spec).tables
    }
    checked = 0
    for name in names:
        if name.startswith("portability/") and name.endswith(".json"):
            table = Path(name).stem
            rows = json.loads(archive.read(name))
            for row in rows:
                assert set(row) <= provided[table], (name, set(row) - provided[table])
                checked += 1
    assert checked > 0
    tables = [n for n in names if n.endswith((".json", ".csv")) and n != "manifest.json"]
    assert tables and all(n.startswith("portability/") for n in tables)
    # Only what the subject provided is in it, as Art. 20 has it: nothing was withheld, and
    # neither the index nor the record says so.
    assert (
        "Part of what was found is not in this package" not in archive.read("index.html").decode()
    )
    assert "withheld" not in CaseEvent.objects.get(case=case, action="package_built").data


def test_prepare_waits_for_every_search_and_complete_for_the_package(world, committed, english):
    officer = Actor.officer(world["officer"])
    case = drive_to_work(committed, world["controllers"]["defero"], world["officer"])
    # Defero's financial administration is a manual system: nobody has answered it yet.
    with pytest.raises(ValidationError, match="Not every system"):
        perform(case, "prepare_response", actor=officer, response="Your data.")
    settle(committed, case, world["officer"])
    supply_letter_items(committed, case, world["officer"])
    # Prepared, but its commit has not run: the package is still being built.
    case = perform(case, "prepare_response", actor=officer, response="Your data.")
    with pytest.raises(ValidationError, match="still being built"):
        perform(case, "complete", actor=officer)
    case.refresh_from_db()
    assert case.state == State.READY


def test_reopening_replaces_the_package_and_only_the_new_one_is_released(world, committed):
    officer = Actor.officer(world["officer"])
    case = drive_to_work(committed, world["controllers"]["smart-site"], world["officer"])
    settle(committed, case, world["officer"])
    supply_letter_items(committed, case, world["officer"])
    case = committed(perform, case, "prepare_response", actor=officer, response="Your data.")
    first = package_of(case)
    case = committed(perform, case, "reopen", actor=officer)
    first.refresh_from_db()
    assert first.status == PackageStatus.SUPERSEDED
    package = respond(committed, case, world["officer"])
    assert package.pk != first.pk and package.status == PackageStatus.RELEASED


def test_an_officer_withholds_a_field_and_the_package_and_letter_say_so(world, committed):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    search = case.searches.filter(kind="sql").first()
    table = search.counts and next(t for t, n in search.counts.items() if n)
    client = officer_client(officer)
    page = client.get(reverse("fulfilment_table", args=[search.pk, table]))
    assert page.status_code == 200 and SUBJECT.email in page.content.decode()
    url = reverse("fulfilment_withhold", args=[search.pk, table])
    # A field that the table does not declare is refused and nothing is recorded.
    client.post(url, {"column": "password_hash", "reason": "Not data."})
    assert not case.withholdings.exists()
    response = client.post(url, {"column": "email", "reason": "Kept back <b>for a test</b>."})
    assert response.status_code == 302
    archive = unzip(respond(committed, case, officer))
    for name in archive.namelist():
        if name.startswith(f"data/{search.system_name}/{table}."):
            assert SUBJECT.email.encode() not in archive.read(name), name
    letter = archive.read("letter.html").decode()
    assert "Kept back &lt;b&gt;for a test&lt;/b&gt;." in letter
    assert "withheld" in actions(case)


def test_a_manual_system_is_answered_with_an_export_file_that_reaches_the_package(
    world, committed, django_capture_on_commit_callbacks
):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["defero"], officer)
    manual = case.searches.get(kind="manual")
    # The owner was asked by mail.
    assert OutgoingMail.objects.filter(case=case, kind="manual_task").exists()
    url = reverse("fulfilment_answer", args=[manual.pk])
    upload = io.BytesIO(b"invoice;amount\n2024-17;120.00\n")
    upload.name = "facturen.csv"

    # An auditor may read the case but not answer; nothing changes.
    auditor = officer_client(world["auditor"])
    assert auditor.post(url, {"found": "file", "export": upload}).status_code == 403
    manual.refresh_from_db()
    assert manual.status == SearchStatus.MANUAL

    client = officer_client(officer)
    # "Found" without a file is refused.
    assert client.post(url, {"found": "file", "note": "x"}).status_code == 400
    upload.seek(0)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"found": "file", "export": upload, "note": "Map 2024"})
    assert response.status_code == 302
    settle(committed, case, officer)
    archive = unzip(respond(committed, case, officer))
    exported = [n for n in archive.namelist() if n.endswith("facturen.csv")]
    assert exported and archive.read(exported[0]) == b"invoice;amount\n2024-17;120.00\n"


def test_officer_pages_are_scoped_and_read_only_for_auditors(world, committed, django_user_model):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    package = respond(committed, case, officer)
    search = case.searches.first()
    stranger = django_user_model.objects.create_user("stranger", password="x", is_staff=True)
    Membership.objects.create(
        user=stranger, controller=world["controllers"]["defero"], role=Role.OFFICER
    )
    table = next(iter(search.counts))
    urls = [
        ("get", reverse("fulfilment_table", args=[search.pk, table])),
        ("post", reverse("fulfilment_withhold", args=[search.pk, table])),
        ("get", reverse("fulfilment_answer", args=[search.pk])),
        ("post", reverse("fulfilment_retry", args=[search.pk])),
        ("post", reverse("fulfilment_skip", args=[search.pk])),
        ("get", reverse("fulfilment_package", args=[package.pk])),
        ("post", reverse("fulfilment_revoke", args=[package.pk])),
    ]
    for user, allowed in ((world["auditor"], {403}), (stranger, {404})):
        client = officer_client(user)
        for method, url in urls:
            assert getattr(client, method)(url).status_code in allowed, (user, url)
        progress = client.get(reverse("fulfilment_progress", args=[case.pk]))
        assert progress.status_code == (200 if user == world["auditor"] else 404)
    package_url = reverse("fulfilment_package", args=[package.pk])
    assert Client().get(package_url).status_code == 302  # to the login page
    package.refresh_from_db()
    assert package.status == PackageStatus.RELEASED
    # The officer downloads exactly what the subject will.
    response = officer_client(officer).get(package_url)
    assert b"".join(response.streaming_content) == b"".join(open_package(package))


def code_from_last_mail() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def test_the_subject_downloads_with_a_mailed_code(
    world, committed, django_capture_on_commit_callbacks
):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["contractstatus"], officer)
    settle(committed, case, officer)
    package = respond(committed, case, officer)
    token = links.status_token(case)
    status = Client().get(links.status_url(case))
    page_url = reverse("package", args=[case.reference, token])
    assert page_url in status.content.decode()
    client = Client()
    assert client.get(page_url).status_code == 200
    # The completion mail points to the download.
    assert any("download" in m.body.lower() for m in mail.outbox)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(page_url, {"action": "send_code"}).status_code == 200
    code = code_from_last_mail()
    sent = OutgoingMail.objects.filter(case=case, kind="download_code").get()
    assert code not in json.dumps(sent.context)  # the secret is not kept once mailed

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = client.post(page_url, {"action": "download", "code": wrong})
    assert response.status_code == 400
    response = client.post(page_url, {"action": "download", "code": code})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content)
    assert body == b"".join(open_package(package))
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    assert actions(case).count("package_downloaded") == 1
    # A code is used once.
    again = client.post(page_url, {"action": "download", "code": code})
    assert again.status_code == 400


def test_a_code_allows_five_tries_and_expires(world, committed, settings, english):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    package = respond(committed, case, officer)
    now = timezone.now()
    committed(delivery.send_code, package, now)
    code = code_from_last_mail()
    for _ in range(settings.DOWNLOAD_CODE_TRIES):
        assert not delivery.check_code(package, "000000" if code != "000000" else "111111", now)
    assert not delivery.check_code(package, code, now)  # no tries left: the code is dead
    committed(delivery.send_code, package, now)
    fresh = code_from_last_mail()
    later = now + dt.timedelta(minutes=settings.DOWNLOAD_CODE_MINUTES, seconds=1)
    assert not delivery.check_code(package, fresh, later)
    committed(delivery.send_code, package, now)
    assert delivery.check_code(package, f" {code_from_last_mail()[:3]} {code_from_last_mail()[3:]}")
    # At most five codes an hour.
    for _ in range(2):
        committed(delivery.send_code, package, now)
    with pytest.raises(ValidationError, match="Too many codes"):
        delivery.send_code(package, now)
    assert DownloadCode.objects.filter(package=package).count() == 5


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_an_ended_package_is_gone_from_disk_and_the_page_says_so(
    world, committed, django_capture_on_commit_callbacks, how
):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    package = respond(committed, case, officer)
    path = Path(world["folder"]).parent  # VAR_DIR; the package lives under MEDIA_ROOT
    stored = list(Path(path.parent / "media").rglob(package.file_name))
    assert stored, "the package file exists before it ends"
    with django_capture_on_commit_callbacks(execute=True):
        if how == "expired":
            assert expire(package.expires_at + dt.timedelta(seconds=1)) == 1
        else:
            response = officer_client(officer).post(
                reverse("fulfilment_revoke", args=[package.pk]), {"reason": "Sent to the wrong"}
            )
            assert response.status_code == 302
    package.refresh_from_db()
    assert package.status == (how if how == "expired" else PackageStatus.REVOKED)
    assert not any(p.exists() for p in stored)
    page = Client().get(reverse("package", args=[case.reference, links.status_token(case)]))
    assert page.status_code == 410
    assert ("package_expired" if how == "expired" else "package_revoked") in actions(case)
    with pytest.raises(ValidationError):
        delivery.send_code(package)


def test_find_subject_counts_rows_per_table_with_the_erasure_plan(world):
    out = io.StringIO()
    call_command(
        "find_subject",
        "--controller",
        "smart-site",
        "--email",
        SUBJECT.email.upper(),
        "--json",
        stdout=out,
    )
    found = json.loads(out.getvalue())
    assert sum(system["rows"] for system in found) > 0
    tables = [table for system in found for table in system["tables"]]
    assert all(table["erasure"] for table in tables)
    nobody = io.StringIO()
    call_command(
        "find_subject",
        "--controller",
        "smart-site",
        "--email",
        "nobody@example.org",
        stdout=nobody,
    )
    assert nobody.getvalue().strip().endswith("0 rows in the systems searched")
    with pytest.raises(CommandError, match="not an email address"):
        call_command("find_subject", "--controller", "smart-site", "--email", "x")
    with pytest.raises(CommandError, match="no controller"):
        call_command("find_subject", "--controller", "acme", "--email", SUBJECT.email)


def test_find_subject_also_finds_by_customer_number(world):
    """A customer number finds the record an email alone does not (a second address)."""

    def customers(*arguments: str) -> int:
        out = io.StringIO()
        call_command(
            "find_subject", "--controller", "contractstatus", *arguments, "--json", stdout=out
        )
        tables = [t for system in json.loads(out.getvalue()) for t in system["tables"]]
        return next(t["rows"] for t in tables if t["table"] == "customers")

    assert customers("--email", "someone.else@example.org") == 0
    assert customers("--email", "someone.else@example.org", "--customer-number", "CS777001") == 1
    with pytest.raises(CommandError, match="customer-number"):
        call_command(
            "find_subject",
            "--controller",
            "contractstatus",
            "--email",
            SUBJECT.email,
            "--customer-number",
            "x\x07",
        )


def test_find_subject_reports_an_unreachable_system_and_searches_the_rest(world, monkeypatch):
    (world["folder"] / "smart-site-website.sqlite3").unlink()
    monkeypatch.setattr("django.conf.settings.VAR_DIR", world["folder"] / "nowhere")
    out = io.StringIO()
    with pytest.raises(CommandError, match="could not be searched"):
        call_command(
            "find_subject", "--controller", "smart-site", "--email", SUBJECT.email, stdout=out
        )
    assert "not searched:" in out.getvalue()


def test_access_package_writes_only_a_released_package_and_records_it(world, committed, tmp_path):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    target = tmp_path / "out.zip"
    with pytest.raises(CommandError, match="no released package"):
        call_command("access_package", case.reference, "-o", str(target))
    settle(committed, case, officer)
    package = respond(committed, case, officer)
    call_command("access_package", case.reference, "-o", str(target), stdout=io.StringIO())
    assert target.read_bytes() == b"".join(open_package(package))
    event = CaseEvent.objects.filter(case=case, action="package_exported").get()
    assert event.data["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    with pytest.raises(CommandError, match="exists"):
        call_command("access_package", case.reference, "-o", str(target))
    with pytest.raises(CommandError, match="no request"):
        call_command("access_package", "DSAR-1999-1", "-o", str(tmp_path / "x.zip"))


def test_a_closed_case_keeps_no_staged_copy(world, committed, settings):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    staged = collect.case_folder(case)
    assert staged.exists() and any(staged.rglob("*"))
    respond(committed, case, officer)
    assert not staged.exists()
