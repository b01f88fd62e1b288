"""Faults a hostile review of fulfilment found, each as a class: a processor that sends a
compressed bomb or puts credentials in its URL, a worker killed on every try, a FIFO in a
system's files, parallel and endless download codes, replayed callbacks, anonymous large
uploads, unrecorded officer downloads and unbounded review pages."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import http.server
import os
import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseEvent
from fulfilment.models import DownloadCode, Search, SearchStatus
from fulfilment.searches import collect, delivery
from fulfilment.searches.staging import Stage
from fulfilment.systems import jobs
from fulfilment.systems.connectors.base import ConnectorError
from fulfilment.systems.connectors.http import HttpConnector

from .demo_world import drive_to_work, officer_client, respond, settle, supply_letter_items
from .test_connectors import SECRET, http_spec


class _Bomb(http.server.BaseHTTPRequestHandler):
    """Answers every call with a gzip body (64 MiB of zeros in 64 KiB), asked for or not."""

    body = gzip.compress(b"\0" * (64 << 20), compresslevel=9)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self) -> None:
        self.server.encodings.append(self.headers.get("Accept-Encoding", ""))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(self.body)


@pytest.fixture
def bomb(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Bomb)
    server.encodings = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", SECRET)
    yield server
    server.shutdown()
    server.server_close()


def test_a_compressed_answer_is_refused_never_inflated(bomb, monkeypatch):
    base = f"http://127.0.0.1:{bomb.server_address[1]}"
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_URL", base)
    source = HttpConnector(http_spec())
    with pytest.raises(ConnectorError, match="gzip"):
        source.status(str(uuid.uuid4()))
    with pytest.raises(ConnectorError, match="gzip"):
        list(source.results(f"{base}/results/1", {"email": "sanne.jansen@example.org"}))
    assert bomb.encodings and set(bomb.encodings) == {"identity"}


def test_credentials_in_a_processor_url_are_refused_and_errors_name_only_the_host(monkeypatch):
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_SECRET", SECRET)
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_URL", "http://user:S3CRETPW@127.0.0.1:9/api")
    with pytest.raises(ConnectorError, match="user name or password") as refused:
        HttpConnector(http_spec())
    assert "S3CRETPW" not in str(refused.value)
    monkeypatch.setenv("DSAR_TEST_PROCESSOR_URL", "http://127.0.0.1:9/private-path/x")
    with pytest.raises(ConnectorError) as unreachable:
        HttpConnector(http_spec()).status("x")
    assert "private-path" not in str(unreachable.value)
    assert "127.0.0.1:9" in str(unreachable.value)


def test_a_search_whose_worker_dies_on_every_try_fails_instead_of_looping(world, committed):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    search = case.searches.first()
    # Seven tries that each ended with a dead worker: claimed, never failed or finished.
    Search.objects.filter(pk=search.pk).update(
        status=SearchStatus.RUNNING,
        attempts=jobs.MAX_ATTEMPTS,
        lease_until=timezone.now() - dt.timedelta(seconds=1),
        next_attempt_at=None,
    )
    assert collect.SEARCHES.claim(search.pk) is None
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED
    assert "worker died" in search.error
    assert case.events.filter(action="system_failed").count() == 1
    assert collect.sweep() == 0


def test_a_fifo_among_a_system_s_files_is_skipped_with_a_warning(tmp_path, settings):
    root = tmp_path / "files"
    root.mkdir()
    os.mkfifo(root / "pipe.jpg")
    (root / "real.jpg").write_bytes(b"\xff\xd8photo")
    os.symlink("/etc/hostname", root / "link.jpg")
    stage = Stage(tmp_path / "stage", os.urandom(32))
    done = threading.Event()

    def stage_them() -> None:
        for name in ("pipe.jpg", "link.jpg", "real.jpg", "a\0b.jpg"):
            collect._stage_file(stage, root, "photos", 1, "photo", name)
        done.set()

    threading.Thread(target=stage_them, daemon=True).start()
    assert done.wait(10), "a FIFO blocked the search"
    manifest = stage.close()
    assert [entry["name"].rsplit("-", 1)[-1] for entry in manifest["files"]] == ["real.jpg"]
    assert any("pipe.jpg is not a file" in w for w in stage.warnings)
    assert any("outside" in w or "not found" in w for w in stage.warnings)  # the link


def released(world, committed, slug: str = "smart-site"):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"][slug], officer)
    settle(committed, case, officer)
    return case, respond(committed, case, officer)


def test_only_the_newest_code_counts_and_a_link_has_twenty_codes_in_all(world, committed, english):
    from django.core import mail

    _case, package = released(world, committed)
    start = timezone.now()
    committed(delivery.send_code, package, start)
    old = mail.outbox[-1].body
    committed(delivery.send_code, package, start)
    old_code = next(word for word in old.split() if word.isdigit() and len(word) == 6)
    assert not delivery.check_code(package, old_code, start)  # replaced by the newer one
    for hour in range(1, 4):  # three hours apart, five codes each
        for _ in range(delivery.CODES_AN_HOUR):
            committed(delivery.send_code, package, start + dt.timedelta(minutes=61 * hour))
    assert DownloadCode.objects.filter(package=package).count() == delivery.CODES_IN_ALL - 3
    later = start + dt.timedelta(hours=5)
    for _ in range(3):
        committed(delivery.send_code, package, later)
    with pytest.raises(ValidationError, match="Contact the company"):
        delivery.send_code(package, later + dt.timedelta(hours=1))
    assert DownloadCode.objects.filter(package=package).count() == delivery.CODES_IN_ALL


def test_a_replayed_callback_does_not_spend_a_failing_processor_s_retries(world, committed):
    from controllers.systems import spec_of
    from fulfilment.systems.connectors.http import SIGNATURE, secret_for, sign

    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smartlockr"], officer)
    remote = case.searches.get(kind="http")
    later = timezone.now() + dt.timedelta(hours=2)
    Search.objects.filter(pk=remote.pk).update(error="HTTP 503", next_attempt_at=later)
    body = f'{{"subject_request_id": "{remote.remote_id}", "request_status": "completed"}}'
    signature = sign(secret_for(spec_of(remote.system.spec)), body.encode())
    url = reverse("fulfilment_callback", args=[remote.pk])
    response = Client().post(
        url, body, content_type="application/json", headers={SIGNATURE: signature}
    )
    assert response.status_code == 202
    remote.refresh_from_db()
    assert remote.next_attempt_at == later  # the backoff stands
    # Every refusal reads the same: nothing tells which searches wait on a processor.
    bodies = {
        Client().post(reverse("fulfilment_callback", args=[pk]), body, content_type="x").content
        for pk in (remote.pk, 999999)
    }
    assert bodies == {b"refused"}


def test_a_large_upload_is_refused_unread_unless_a_staff_session_sends_it(world, committed):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["defero"], officer)
    manual = case.searches.get(kind="manual")
    url = reverse("fulfilment_answer", args=[manual.pk])
    big = str(20 << 20)  # over the public limit, under the officer's
    anonymous = Client().post(url, b"x", content_type="text/plain", CONTENT_LENGTH=big)
    assert anonymous.status_code == 413
    elsewhere = officer_client(officer).post(
        reverse("fulfilment_skip", args=[manual.pk]),
        b"x",
        content_type="text/plain",
        CONTENT_LENGTH=big,
    )
    assert elsewhere.status_code == 413
    staff = officer_client(officer).post(url, b"x", content_type="text/plain", CONTENT_LENGTH=big)
    assert staff.status_code != 413
    # At the address it had before issue 22's rename, it is redirected to be posted again.
    old = url.replace("/search/", "/collection/")  # rename:keep
    moved = officer_client(officer).post(old, b"x", content_type="text/plain", CONTENT_LENGTH=big)
    assert (moved.status_code, moved["Location"]) == (308, url)
    stranger = Client().post(old, b"x", content_type="text/plain", CONTENT_LENGTH=big)
    assert stranger.status_code == 413


def test_an_officer_s_download_of_the_package_is_recorded(world, committed):
    case, package = released(world, committed)
    response = officer_client(world["officer"]).get(
        reverse("fulfilment_package", args=[package.pk])
    )
    b"".join(response.streaming_content)
    event = CaseEvent.objects.filter(case=case, action="package_viewed").get()
    assert event.actor_label == "officer" and event.data["sha256"] == package.sha256


def test_a_review_page_past_the_end_shows_the_last_page(world, committed):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["smart-site"], officer)
    settle(committed, case, officer)
    search = case.searches.first()
    table = next(t for t, n in search.counts.items() if n)
    url = reverse("fulfilment_table", args=[search.pk, table])
    client = officer_client(officer)
    last = client.get(url, {"page": "999999999999"})
    assert last.status_code == 200
    assert last.context["pages"].number == last.context["pages"].paginator.num_pages
    assert "sanne.jansen@example.org" in last.content.decode()  # rows shown, not an empty page


def _files_system(tmp_path, monkeypatch) -> None:
    """Smart-Site with one table of two file columns: an avatar the subject provided and a scan
    that also shows someone else; two records name files of the same base name."""
    import sqlite3

    import tomli_w

    from controllers.systems import load_systems_files

    files = tmp_path / "files"
    (files / "2023").mkdir(parents=True)
    (files / "2024").mkdir()
    (files / "2023" / "img.jpg").write_bytes(b"AVATAR-2023")
    (files / "2024" / "img.jpg").write_bytes(b"AVATAR-2024")
    (files / "scan.pdf").write_bytes(b"SCAN-WITH-THIRD-PARTY")
    db = sqlite3.connect(tmp_path / "crm.sqlite3")
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, avatar TEXT, scan TEXT)")
    db.executemany(
        "INSERT INTO people VALUES (?, ?, ?, ?)",
        [
            (1, "jan@example.org", "2023/img.jpg", "scan.pdf"),
            (2, "jan@example.org", "2024/img.jpg", None),
        ],
    )
    db.commit()
    db.close()
    monkeypatch.setenv("DSAR_TEST_CRM_URL", f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    monkeypatch.setenv("DSAR_TEST_CRM_FILES", str(files))
    category = "Registratie-informatie"
    system = {
        "name": "crm",
        "title": "CRM",
        "kind": "sql",
        "url_env": "DSAR_TEST_CRM_URL",
        "files_env": "DSAR_TEST_CRM_FILES",
        "tables": [
            {
                "name": "people",
                "key": "id",
                "identities": {"email": "email"},
                "columns": [
                    {"name": "id", "category": category},
                    {"name": "email", "category": category, "provided": True},
                    {"name": "avatar", "category": category, "provided": True, "file": True},
                    {"name": "scan", "category": category, "file": True},
                ],
            }
        ],
    }
    path = tmp_path / "smart-site.toml"
    path.write_text(tomli_w.dumps({"schema": 1, "controller": "smart-site", "systems": [system]}))
    load_systems_files([path])


@pytest.mark.parametrize("right", ["access", "portability"])
def test_a_withheld_or_not_provided_file_column_keeps_its_files_out(
    cast, submit, committed, tmp_path, monkeypatch, right
):
    import io
    import zipfile

    from cases.actors import Actor
    from cases.workflow import perform
    from fulfilment.models import Withholding
    from fulfilment.searches.package import open_package, package_of

    _files_system(tmp_path, monkeypatch)
    case = submit(cast.a, right=right)
    (search,) = case.searches.all()
    assert search.status == SearchStatus.DONE, search.error
    if right == "access":  # the officer withholds the scans (another person is on them)
        Withholding.objects.create(
            case=case,
            system_name="crm",
            table="people",
            column="scan",
            reason="Third party",
            by=cast.officer_a,
            at=timezone.now(),
        )
    officer = Actor.officer(cast.officer_a)
    if right == "access":
        supply_letter_items(committed, case, cast.officer_a)
    case = committed(perform, case, "prepare_response", actor=officer, response="Your data.")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(open_package(package_of(case)))))
    contents = [archive.read(n) for n in archive.namelist() if "/files/" in n]
    # Both avatars, each its own file (same base name, different records and folders)...
    assert sorted(contents) == [b"AVATAR-2023", b"AVATAR-2024"]
    # ...and never the scan: withheld (access) or not provided by the subject (portability).
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert b"SCAN-WITH-THIRD-PARTY" not in everything
