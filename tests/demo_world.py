"""The demo world of the fulfilment tests: the five controllers' systems filled by
``demo.people`` (a few dozen fake people and the demo subject), the stub processor serving on a
real port, and an officer and an auditor of every controller; with the helpers that drive the
demo subject's request through the one transition path."""

from __future__ import annotations

import io
import re
import shutil
import sqlite3
import threading
import zipfile
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from cases.actors import Actor
from cases.models import Case, CaseEvent, State
from cases.workflow import perform
from controllers.models import Membership, Role
from demo import people
from demo.processor import Processor, datasets, serve
from fulfilment.models import Package, PackageStatus, Search, SearchStatus
from fulfilment.searches import collect
from fulfilment.searches.package import open_package, package_of

from .procs import free_port, until

SUBJECT = people.SUBJECT
SLUGS = ["smart-site", "smartphoto", "contractstatus", "smartlockr", "defero"]


@pytest.fixture(scope="session")
def built_systems(tmp_path_factory) -> Path:
    """The demo systems built once a process (Faker is the slow part); each test gets a copy."""
    folder = tmp_path_factory.mktemp("demo-world") / "systems"
    people.build(folder, count=30)
    return folder


@pytest.fixture
def world(systems, settings, django_user_model, built_systems):
    """The demo systems with a few dozen fake people, the stub processor on a free port, and an
    officer and an auditor of all five controllers."""
    folder = Path(settings.VAR_DIR) / "systems"
    # A copy of the same build (seeded: the same people every time), for the test to change.
    shutil.copytree(built_systems, folder)
    port = free_port()
    settings.DEMO_PROCESSOR_URL = f"http://127.0.0.1:{port}"
    processor = Processor(
        datasets(folder), folder / "processor-requests.sqlite3", settings.DEMO_PROCESSOR_URL, 0
    )
    server = serve(processor, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    officer = django_user_model.objects.create_user("officer", password="x", is_staff=True)
    auditor = django_user_model.objects.create_user("auditor", password="x", is_staff=True)
    for controller in systems.values():
        Membership.objects.create(user=officer, controller=controller, role=Role.OFFICER)
        Membership.objects.create(user=auditor, controller=controller, role=Role.AUDITOR)
    yield {"controllers": systems, "folder": folder, "officer": officer, "auditor": auditor}
    server.shutdown()
    server.server_close()


def other_people(folder: Path) -> set[str]:
    """Every email address in the demo systems but the subject's: none may reach a package."""
    found: set[str] = set()
    pattern = re.compile(r"[\w.+-]+@example\.(?:com|net|org)")
    for path in folder.glob("*.sqlite3"):
        db = sqlite3.connect(path)
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (own demo files)
                found.update(pattern.findall(" ".join(map(str, row))))
        db.close()
    return found - {SUBJECT.email}


def drive_to_work(
    committed, controller, officer, right: str = "access", *, email: str = SUBJECT.email
) -> Case:
    """Submit as the demo subject (or as someone at ``email``) and settle identity as the
    controller's rule asks."""
    from cases.intake import receive_case

    case = committed(
        receive_case,
        controller=controller,
        right=right,
        name=SUBJECT.name,
        email=email,
        language="en",
    )
    case = committed(perform, case, "confirm_email", actor=Actor.subject())
    if case.state == State.AWAITING_IDENTITY:
        case = committed(perform, case, "submit_identity", actor=Actor.subject())
    if case.state == State.IDENTITY_REVIEW:
        case = committed(
            perform,
            case,
            "approve_identity",
            actor=Actor.officer(officer),
            record={"name_matches": True},
        )
    assert case.state == State.IN_PROGRESS
    return case


def settle(committed, case: Case, officer) -> None:
    """Let the processor answer (polled, as the sweep would) and answer manual systems."""

    def answered() -> bool:
        waiting = list(case.searches.filter(status=SearchStatus.REMOTE))
        for search in waiting:
            # The next poll is due now (the sweep would wait its five minutes).
            Search.objects.filter(pk=search.pk).update(next_attempt_at=timezone.now())
            committed(collect.run, search.pk)
        return not waiting

    until(answered, "the processor to answer the searches")
    for search in case.searches.filter(status=SearchStatus.MANUAL):
        committed(
            collect.answer_manually,
            search,
            actor=Actor.officer(officer),
            found=False,
            note_text="Searched the paper files.",
            file_name="",
            chunks=None,
        )
    statuses = set(case.searches.values_list("status", flat=True))
    assert statuses == {SearchStatus.DONE}, list(case.searches.values("system_name", "error"))


# What an officer writes where the privacy statement is silent on an item of the access letter
# (fulfilment.searches.letter): a sentence in the letter's language, reused for the next request.
SUPPLIED = "Supplied by the officer for this letter."


def supply_letter_items(committed, case: Case, officer, text: str = SUPPLIED) -> list[str]:
    """Supply, as the officer, every item the access letter still needs: "none" where that is
    an answer (nothing disclosed to an occasional recipient, no automated decisions), ``text``
    otherwise. Returns the keys supplied."""
    from fulfilment.searches import letter

    keys = []
    for gap in letter.gaps(case):
        none = gap.kind == letter.NONE_OR_TEXT
        committed(
            letter.supply,
            case,
            gap.key,
            actor=Actor.officer(officer),
            text="" if none else text,
            none=none,
            reuse=True,
        )
        keys.append(gap.key)
    return keys


def respond(committed, case: Case, officer) -> Package:
    officer_actor = Actor.officer(officer)
    if case.right == "access":
        supply_letter_items(committed, case, officer)
    case = committed(perform, case, "prepare_response", actor=officer_actor, response="Your data.")
    package = package_of(case)
    assert package.status == PackageStatus.READY, package.error
    committed(perform, case, "complete", actor=officer_actor)
    package.refresh_from_db()
    return package


def unzip(package: Package) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(open_package(package))))


def actions(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))


def officer_client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def poll_until_settled(committed, change) -> None:
    """Poll a processor's change as beat's sweep would, until it is settled (the processor
    works on its own clock: on a busy machine that takes longer, never forever)."""
    from fulfilment.changes import execute
    from fulfilment.models import Change

    def settled() -> bool:
        change.refresh_from_db()
        if not change.settled:
            Change.objects.filter(pk=change.pk).update(next_attempt_at=timezone.now())
            committed(execute.run, change.pk)
        return change.settled

    until(settled, "the processor to settle the change")


# What an officer records for a recipient that receives data only on occasion (a legal order,
# the subject's consent) after checking the register of disclosures.
NO_DISCLOSURE = "Register of disclosures checked: nothing of this person's was disclosed to it."


def nothing_disclosed(committed, case: Case, officer, note: str = NO_DISCLOSURE) -> list[str]:
    """Record, for every recipient that waits for the officer (Art. 19), that none of the
    subject's data went to it; returns their names."""
    from fulfilment.changes import execute
    from fulfilment.models import NoticeStatus

    waiting = list(case.notices.filter(status=NoticeStatus.UNRESOLVED))
    for notice in waiting:
        committed(
            execute.decide,
            notice,
            actor=Actor.officer(officer),
            decision=execute.NOT_DISCLOSED,
            note_text=note,
        )
    return [n.recipient for n in waiting]
