"""The auditor's case report: a PDF/A-3b whose text shows the deadlines met or missed, the texts
sent, the identity check and the fulfilment evidence, whose embedded events re-verify the chain,
which says so when an event was tampered with, which renders to the same bytes twice, and which
only the case's controller's officers and auditors can download."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.urls import reverse
from pypdf import PdfReader

from cases.actors import Actor
from cases.intake import receive_case
from cases.models import CaseEvent
from cases.workflow import perform
from controllers.models import PolicyVersion
from controllers.policy import dump_policy, policy_sha256, record_version
from fulfilment.changes import plans
from reports.case_report import (
    embedded_events,
    embedded_policy,
    policy_of,
    render,
    verify_embedded,
)

from .conftest import require_service
from .demo_world import SUBJECT, drive_to_work, nothing_disclosed, officer_client, respond, settle

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def erased(world, committed):
    defero, officer = world["controllers"]["defero"], world["officer"]
    case = drive_to_work(committed, defero, officer, "erasure")
    actor = Actor.officer(officer)
    plan = plans.current(case)
    committed(perform, case, "approve_plan", actor=actor, plan=plan.sha256)
    from fulfilment.changes import execute

    manual = case.changes.get(kind="manual")
    committed(
        execute.confirm_manual, manual, actor=actor, note_text="Bookkeeper confirmed.", found=True
    )
    nothing_disclosed(committed, case, officer)  # Defero's third parties: only with consent
    case = committed(perform, case, "prepare_response", actor=actor, response="All done.")
    case = committed(perform, case, "complete", actor=actor, message="Kind regards.")
    case.refresh_from_db()  # the events after the step (the letter) moved the head on
    return case


def test_the_case_report_shows_deadlines_texts_identity_evidence_and_a_verified_chain(
    world, committed
):
    case = erased(world, committed)
    pdf = render(case, language="en")
    reader = PdfReader(io.BytesIO(pdf))
    assert "/GTS_PDFA1" in str(reader.trailer["/Root"].get_object().get("/OutputIntents"))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    text = text_of(pdf)
    assert case.reference in text and "Defero" in text
    assert "Erasure (Art. 17)" in text and "Completed" in text
    assert "Statutory (one month)" in text and "met:" in text
    assert "All done." in text and "Kind regards." in text  # the texts sent, in full
    assert "Klanten delete 1" in text  # the plan, from fulfilment
    assert "Recipients (Art. 19)" in text
    assert "derden: none of the subject's data disclosed to it" in text
    assert "decided by officer" in text
    assert "The audit trail verifies" in text and case.audit_head in text.replace("\n", "")
    assert "No ID copy was asked or received." in text and "checked by" not in text
    assert SUBJECT.phone not in text  # the subject's data is not in the report
    # The embedded events re-verify the chain, with the audit key.
    document = embedded_events(pdf)
    assert len(document["events"]) == case.audit_count
    assert verify_embedded(pdf) == []
    # The same report in Dutch.
    text = text_of(render(case, language="nl"))
    assert "Termijnen" in text and "Integriteit" in text


def test_mail_texts_show_as_sent_but_never_the_subject_s_private_link_or_code(world, committed):
    """Whoever holds the status link can act as the subject (answer, withdraw), and a report is
    read and filed by others: the mails' texts print with their links and codes withheld."""
    from cases.links import confirmation_url, status_token
    from cases.mail import queue_mail

    case = erased(world, committed)
    # A code mail still queued: its row holds the code until it is sent.
    queue_mail(case, "download_code", secret_code="493817", minutes=15)
    pdf = render(case, language="en")
    text = text_of(pdf).replace("\n", "")
    assert "Your code to download your data" in text  # the texts as sent are there
    assert "Thank you for confirming" in text
    assert "493817" not in text
    assert status_token(case) not in text
    assert confirmation_url(case).rsplit("/", 2)[-2] not in text
    assert "[private link or code of the subject, not shown]" in text
    # A sent mail is printed as it was kept when sent (a template changed since changes
    # nothing), and what was kept withholds the link too.
    sent = case.outgoing_mail.filter(kind="confirmed").get()
    assert sent.status == "sent" and "Thank you for confirming" in sent.record_text
    assert status_token(case) not in sent.record_text
    type(sent).objects.filter(pk=sent.pk).update(record_text="Kept when it was sent.")
    assert "Kept when it was sent." in text_of(render(case, language="en"))
    # Each line of a text is printed as a line (a message written over several lines).
    message = "First line of the answer.\nSecond line.\n\nA new paragraph."
    case = committed(
        perform, case, "message", actor=Actor.officer(world["officer"]), message=message
    )
    lines = text_of(render(case, language="en")).splitlines()
    at = lines.index("First line of the answer.")
    assert lines[at : at + 3] == ["First line of the answer.", "Second line.", "A new paragraph."]


@pytest.mark.parametrize("subsetter", ["harfbuzz", "fonttools"])
def test_a_pdf_is_the_same_bytes_whenever_it_is_rendered(subsetter, monkeypatch):
    """Whichever subsetter the system has: fontTools (no HarfBuzz-Subset) stamps each font
    subset with the clock unless the renderer fixes the stamp."""
    import time

    from weasyprint.pdf import fonts

    from cases.pdf import render_pdf

    if subsetter == "fonttools":
        monkeypatch.setattr(fonts, "harfbuzz_subset", None)
    else:
        require_service(fonts.harfbuzz_subset is not None, "HarfBuzz-Subset is not installed")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    clock = iter(range(1_800_000_000, 1_900_000_000, 100_000))
    monkeypatch.setattr(time, "time", lambda: float(next(clock)))
    html = "<p>Case 000001: <code>erased</code>, één regel.</p>"
    assert render_pdf(html) == render_pdf(html)


def test_a_tampered_event_makes_the_next_report_say_so_and_its_events_fail(world, committed):
    case = erased(world, committed)
    event = CaseEvent.objects.filter(case=case).order_by("seq")[2]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CaseEvent._meta.db_table} SET message = %s WHERE id = %s",  # noqa: S608
            ["Rewritten afterwards.", event.pk],
        )
    pdf = render(case, language="en")
    assert "does NOT verify" in text_of(pdf)
    assert any("hash does not match" in problem for problem in verify_embedded(pdf))


def test_the_report_names_and_carries_the_policy_the_request_was_received_under(world, committed):
    """A request records the hash of its controller's policy in its first, hash-chained event;
    the report prints that hash and carries that file, also after the registry has changed."""
    case = erased(world, committed)
    controller = case.controller
    sha = case.events.get(action="receive").data["policy"]
    version = PolicyVersion.objects.get(controller=controller, sha256=sha)
    assert policy_sha256(version.text) == sha == policy_sha256(dump_policy(controller))
    pdf = render(case, language="en")
    text = text_of(pdf).replace("\n", "")
    assert sha in text and "has changed since" not in text and "policy.toml" in text
    assert embedded_policy(pdf) == version.text.encode()
    assert verify_embedded(pdf) == []
    # The registry changes: the report still names and carries the policy of the receipt, and
    # says what the registry holds now.
    controller.phone = "+31 20 000 0000"
    committed(controller.save)
    now = policy_sha256(dump_policy(controller))
    assert now != sha
    pdf = render(case, language="en")
    text = text_of(pdf).replace("\n", "")
    assert sha in text and "has changed since" in text and now in text
    assert embedded_policy(pdf) == version.text.encode() and verify_embedded(pdf) == []
    # A new request records the new version, kept beside the old one.
    later = receive_case(
        controller=controller, right="access", name="B", email="b@example.org", language="en"
    )
    assert later.events.get(action="receive").data["policy"] == now
    assert set(controller.policy_versions.values_list("sha256", flat=True)) == {sha, now}
    # A kept file altered afterwards is neither carried nor trusted, and the report says so.
    PolicyVersion.objects.filter(pk=version.pk).update(text=version.text + "# edited\n")
    pdf = render(case, language="en")
    assert embedded_policy(pdf) is None
    assert "does NOT match it" in text_of(pdf).replace("\n", " ")


def test_a_request_from_before_policies_were_recorded_shows_the_policy_held_now(world, committed):
    case = erased(world, committed)
    events = list(case.events.order_by("seq"))
    events[0].data = {k: v for k, v in events[0].data.items() if k != "policy"}
    policy = policy_of(case, events)
    assert policy.sha256 == "" and policy.text == "" and not policy.changed
    assert policy.current == policy_sha256(dump_policy(case.controller))


def test_recording_a_policy_version_twice_or_at_once_keeps_one_row(world, monkeypatch):
    from django.db.models import QuerySet

    controller = world["controllers"]["defero"]
    first = record_version(controller)
    # Two intakes that both found no row insert at once: the second insert is ignored.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    assert record_version(controller) == first
    assert controller.policy_versions.count() == 1


def test_a_policy_file_that_is_not_the_recorded_one_does_not_verify(world, committed):
    import json as jsonlib

    from weasyprint import HTML, Attachment

    case = erased(world, committed)
    genuine = render(case, language="en")
    events = jsonlib.dumps(embedded_events(genuine))
    policy = embedded_policy(genuine).decode()

    def carrying(text: str) -> bytes:
        return HTML(string="<p>x</p>").write_pdf(
            attachments=[
                Attachment(string=events, name="events.json"),
                Attachment(string=text, name="policy.toml"),
            ]
        )

    assert verify_embedded(carrying(policy)) == []
    problems = verify_embedded(carrying(policy + "# appended\n"))
    assert problems == ["the embedded policy.toml is not the one the request recorded"]
    # Stripped of its policy file, a report no longer verifies.
    stripped = HTML(string="<p>x</p>").write_pdf(
        attachments=[Attachment(string=events, name="events.json")]
    )
    assert verify_embedded(stripped) == [
        "the PDF carries no policy.toml, though the request recorded one"
    ]
    # A forged file beside the genuine one, under the same name: a viewer may show either.
    for name, text in (("policy.toml", policy), ("events.json", events)):
        doubled = HTML(string="<p>x</p>").write_pdf(
            attachments=[
                Attachment(string=events, name="events.json"),
                Attachment(string=policy, name="policy.toml"),
                Attachment(string=text + " ", name=name),
            ]
        )
        with pytest.raises(ValueError, match=f"2 files named {name}"):
            verify_embedded(doubled)


def test_a_policy_file_removed_from_the_registry_is_said_and_the_report_does_not_verify(
    world, committed
):
    case = erased(world, committed)
    PolicyVersion.objects.filter(controller=case.controller).delete()
    pdf = render(case, language="en")
    assert "keeps NO file under this hash" in text_of(pdf).replace("\n", " ")
    assert embedded_policy(pdf) is None
    assert verify_embedded(pdf) == [
        "the PDF carries no policy.toml, though the request recorded one"
    ]


def test_a_request_received_before_policies_were_recorded_says_so(world, committed, monkeypatch):
    from reports import case_report

    case = erased(world, committed)
    held_now = "c" * 64
    monkeypatch.setattr(
        case_report,
        "policy_of",
        lambda case, events: case_report.Policy("", "", held_now, None),
    )
    text = text_of(render(case, language="en")).replace("\n", " ")
    assert "not recorded at this request's receipt" in text
    assert held_now in text.replace(" ", "")


def test_the_identity_section_shows_the_copy_received_and_each_decision_labelled(
    cast, submit, committed
):
    from cases import iddocs

    from .pdfs import MINIMAL_PDF

    document = iddocs.CheckedDocument(MINIMAL_PDF, "application/pdf")
    case = submit(cast.b, confirm=False, id_document=document)  # Defero asks a copy for access
    case = committed(perform, case, "confirm_email", actor=Actor.subject())
    case = committed(perform, case, "approve_identity", actor=Actor.officer(cast.officer_b))
    text = text_of(render(case, language="en")).replace("\n", " ")
    identity = text[text.index("Identity") : text.index("Timeline")]
    assert "An ID copy came with the request." in identity
    assert "ID copy checked by officer_b: approved; 1 copy deleted" in identity
    assert "No ID copy was asked" not in identity
    assert "No ID copy is held" in identity


def test_only_the_controller_s_officers_and_auditors_download_it(
    world, committed, django_user_model
):
    from controllers.models import Membership, Role

    case = drive_to_work(committed, world["controllers"]["smart-site"], world["officer"])
    settle(committed, case, world["officer"])
    respond(committed, case, world["officer"])
    url = reverse("reports_case_pdf", args=[case.pk])
    for user in (world["auditor"], world["officer"]):
        response = officer_client(user).get(f"{url}?lang=en")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    stranger = django_user_model.objects.create_user("stranger", password="x", is_staff=True)
    Membership.objects.create(
        user=stranger, controller=world["controllers"]["defero"], role=Role.AUDITOR
    )
    assert officer_client(stranger).get(f"{url}?lang=en").status_code == 404
    assert officer_client(world["auditor"]).get(f"{url}?lang=xx").status_code == 404
    page = officer_client(world["auditor"]).get(reverse("admin:dsar_case_change", args=[case.pk]))
    assert f"{url}?lang=nl" in page.content.decode()


def test_the_commands_write_reports_and_verify_them(world, committed, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    case = erased(world, committed)
    one = tmp_path / "one.pdf"
    call_command("case_report", case.reference, "-o", str(one))
    assert one.read_bytes() == render(case, language="en")
    folder = tmp_path / "all"
    call_command(
        "case_report", "--controller", "defero", "--from", "2020-01-01", "--out-dir", str(folder)
    )
    assert [p.name for p in folder.iterdir()] == [f"{case.reference}.pdf"]
    out = io.StringIO()
    call_command("verify_report", str(one), stdout=out)
    assert "verifies" in out.getvalue()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 not really")
    with pytest.raises(CommandError):
        call_command("verify_report", str(broken), stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="no request"):
        call_command("case_report", "DSAR-1999-000001", "-o", str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "case_report", "--controller", "defero", "--from", "yesterday", "--out-dir", str(folder)
        )


def test_subject_text_is_printed_as_text_and_fetches_nothing(world, committed, monkeypatch):
    """Markup in what a subject wrote is shown as the characters it is; the renderer asks for
    nothing but the project's static files (no network, no file://)."""
    from cases import pdf as pdf_module

    asked: list[str] = []
    real = pdf_module.static_file

    def watch(url):
        asked.append(url)
        return real(url)

    monkeypatch.setattr(pdf_module, "static_file", watch)
    from cases.intake import receive_case

    hostile = (
        '<img src="http://evil.example/x.png"><link rel="stylesheet" href="file:///etc/passwd">'
    )
    case = committed(
        receive_case,
        controller=world["controllers"]["smart-site"],
        right="access",
        name="Eve <b>Evil</b>",
        email="eve@example.org",
        language="en",
        details=hostile,
    )
    case = committed(perform, case, "confirm_email", actor=Actor.subject())
    committed(
        perform,
        case,
        "ask_subject",
        actor=Actor.officer(world["officer"]),
        message="Which account?",
    )
    committed(perform, case, "answer", actor=Actor.subject(), message=hostile)
    case.refresh_from_db()
    text = text_of(render(case, language="en"))
    assert 'src="http://evil.example/x.png"' in text.replace("\n", "")
    assert all(url.startswith(pdf_module.BASE) for url in asked), asked


# --- The compliance report: a hand count of a small history, and the same in PDF and CSV.


def _history(cast, committed):
    """Six requests at Smart-Site (cast.a), March and April 2026, each through the one path with
    the clock set back: decided on time, late but extended in time, refused, withdrawn, open
    and overdue, and one decided late."""
    import datetime as dt

    import time_machine

    from cases.intake import receive_case
    from cases.models import RefusalGround

    officer = Actor.officer(cast.officer_a)
    zone = dt.timezone(dt.timedelta(hours=1))

    def at(day: str, hour: int = 10) -> dt.datetime:
        return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=zone)

    def new(day: str, right: str = "access"):
        with time_machine.travel(at(day), tick=False):
            case = committed(
                receive_case,
                controller=cast.a,
                right=right,
                name="Jan Jansen",
                email=f"jan.{day}@example.org",
                language="en",
            )
            return committed(perform, case, "confirm_email", actor=Actor.subject())

    def step(case, name, day, **kwargs):
        with time_machine.travel(at(day), tick=False):
            return committed(perform, case, name, actor=officer, **kwargs)

    on_time = new("2026-03-02")
    step(on_time, "prepare_response", "2026-03-09", response="Here it is.")
    step(on_time, "complete", "2026-03-10")
    extended = new("2026-03-03")
    step(extended, "extend", "2026-03-20", reason="Many systems.")
    step(extended, "prepare_response", "2026-04-20", response="Here it is.")
    step(extended, "complete", "2026-04-21")
    refused = new("2026-03-05", "erasure")
    step(
        refused,
        "refuse",
        "2026-03-12",
        ground=RefusalGround.ERASURE_LEGAL_CLAIMS,
        reason="A claim.",
    )
    withdrawn = new("2026-03-06")
    with time_machine.travel(at("2026-03-07"), tick=False):
        committed(perform, withdrawn, "withdraw", actor=Actor.subject())
    new("2026-03-09")  # never answered: overdue by June
    late = new("2026-04-01")
    step(late, "prepare_response", "2026-05-20", response="Sorry for the wait.")
    step(late, "complete", "2026-05-21")
    return at


def test_the_compliance_figures_equal_a_hand_count_and_the_csv_and_the_pdf(cast, committed):
    import csv
    import datetime as dt

    from reports import compliance

    at = _history(cast, committed)
    data = compliance.figures(
        [cast.a], dt.date(2026, 3, 1), dt.date(2026, 4, 30), now=at("2026-06-01")
    )
    assert data.received == 6
    assert data.by_right == {"access": 5, "erasure": 1}
    assert data.decided == 4  # two completed on time, one extended, one late, one refused
    assert data.on_time == 3  # the extended one counts against its extended deadline
    assert data.on_time_statutory == 2
    assert data.extended == data.extended_notified_in_time == 1
    assert data.refusals == {"erasure_legal_claims": 1}
    assert data.open_now == data.overdue_now == 1
    assert data.by_state["withdrawn"] == 1
    assert [m for m, *_rest in data.by_month] == ["2026-03", "2026-04"]
    assert data.by_month[0][1:] == (5, 3, 3)  # March: received, decided, decided on time
    assert data.by_month[1][1:] == (1, 1, 0)
    assert data.median_days is not None and data.p90_days >= data.median_days
    figures_csv = dict(csv.reader(io.StringIO(compliance.figures_csv(data))))
    assert figures_csv["Requests received"] == "6"
    assert figures_csv["Decided and sent by the effective deadline"] == "3 (75.0%)"
    assert figures_csv["Decided and sent by the statutory deadline"] == "2 (50.0%)"
    # In Dutch, every label Dutch and the shares in its notation.
    dutch = dict(csv.reader(io.StringIO(compliance.figures_csv(data, "nl"))))
    assert dutch["Beslist en verstuurd binnen de geldende termijn"] == "3 (75,0%)"
    assert dutch["Nu: Ingetrokken"] == "1" and "Now: Ingetrokken" not in dutch
    assert not [name for name in dutch if name.startswith(("Now:", "Received:", "Refused:"))]
    log = list(
        csv.reader(io.StringIO("".join(compliance.request_log([cast.a], data.start, data.end))))
    )
    assert len(log) == 7 and log[0][0] == "Reference"
    text = text_of(compliance.render(data))
    assert "75.0%" in text and "50.0%" in text and "Requests received 6" in text


def test_the_compliance_figures_take_the_same_queries_for_one_request_or_many(cast, committed):
    import datetime as dt

    from django.test.utils import CaptureQueriesContext

    from reports import compliance

    _history(cast, committed)
    with CaptureQueriesContext(connection) as small:
        compliance.figures([cast.a], dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    with CaptureQueriesContext(connection) as large:
        compliance.figures([cast.a], dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert len(small) == len(large) <= 8


def test_the_reports_page_offers_only_the_user_s_controllers(cast, committed, client):
    from django.urls import reverse

    _history(cast, committed)
    client.force_login(cast.auditor_a)
    page = client.get(reverse("reports_index"))
    assert cast.a.legal_name in page.content.decode()
    assert cast.b.legal_name not in page.content.decode()
    query = f"start=2026-03-01&end=2026-04-30&controllers={cast.a.pk}&language=en"
    response = client.get(f"{reverse('reports_log_csv')}?{query}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).count(b"\n") == 7
    other = f"start=2026-03-01&end=2026-04-30&controllers={cast.b.pk}&language=en"
    assert client.get(f"{reverse('reports_figures_csv')}?{other}").status_code == 404
    backwards = f"start=2026-04-30&end=2026-03-01&controllers={cast.a.pk}&language=en"
    assert client.get(f"{reverse('reports_index')}?{backwards}").status_code == 400
    assert client.get(f"{reverse('reports_compliance_pdf')}?{query}")["Content-Type"] == (
        "application/pdf"
    )


def test_a_zip_of_the_case_reports_of_a_period_is_built_in_the_background(
    cast, committed, client, django_capture_on_commit_callbacks, settings, tmp_path
):
    import datetime as dt
    import zipfile

    from django.urls import reverse
    from django.utils import timezone

    from reports import archive
    from reports.models import Archive, ArchiveStatus

    _history(cast, committed)
    client.force_login(cast.auditor_a)
    form = {"start": "2026-03-01", "end": "2026-04-30", "controllers": cast.a.pk, "language": "en"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports_archive_create"), form)
    made = Archive.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "reports_archive", args=[made.pk]
    )
    assert made.status == ArchiveStatus.READY and made.done == made.total == 4
    page = client.get(reverse("reports_archive", args=[made.pk])).content.decode()
    assert "4 / 4" in page
    download = client.get(reverse("reports_archive_zip", args=[made.pk]))
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    closed = sorted(f"{c.reference}.pdf" for c in archive.closed_in([cast.a], made.start, made.end))
    assert sorted(bundle.namelist()) == closed and len(closed) == 4
    # Somebody else's archive is not there for them, whatever their scope.
    client.force_login(cast.officer_a)
    assert client.get(reverse("reports_archive_zip", args=[made.pk])).status_code == 404
    # One whose task never ran is published by the sweep; an old one is deleted with its file.
    waiting = Archive.objects.create(
        requested_by=cast.auditor_a,
        controllers=[cast.a.pk],
        start=made.start,
        end=made.end,
        language="nl",
    )
    Archive.objects.filter(pk=waiting.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert archive.sweep() == 1
    waiting.refresh_from_db()
    assert waiting.status == ArchiveStatus.READY  # eager in the tests: built at once
    later = timezone.now() + dt.timedelta(days=settings.REPORT_ARCHIVE_DAYS + 1)
    archive.sweep(later)
    assert not Archive.objects.exists() and not archive.path_of(made).exists()


def test_a_forged_or_malformed_attachment_is_refused_and_the_pages_are_checked(
    world, committed, tmp_path
):
    import json as jsonlib

    from django.core.management import call_command
    from django.core.management.base import CommandError
    from weasyprint import HTML, Attachment

    case = erased(world, committed)
    genuine = render(case, language="en")
    document = embedded_events(genuine)
    checked = tmp_path / "genuine.pdf"
    checked.write_bytes(genuine)
    out = io.StringIO()
    call_command("verify_report", str(checked), "--against-database", stdout=out)
    assert "events and pages" in out.getvalue() and case.reference in out.getvalue()
    # The genuine files beside other pages: the events verify, the pages do not.
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(
        HTML(string="<p>All deadlines met.</p>").write_pdf(
            attachments=[
                Attachment(string=jsonlib.dumps(document), name="events.json"),
                Attachment(string=embedded_policy(genuine).decode(), name="policy.toml"),
            ]
        )
    )
    out = io.StringIO()
    call_command("verify_report", str(forged), stdout=out)
    assert "embedded events only" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("verify_report", str(forged), "--against-database", stdout=io.StringIO())
    # Malformed attachments are reported, never a traceback, and the next file is still read.
    bad = [[], {"events": ["x"]}, {"events": None}, {**document, "case_id": "1"}]
    bad.append({**document, "events": [{**document["events"][0], "hash": "é" * 64}]})
    files = []
    for index, content in enumerate(bad):
        path = tmp_path / f"bad{index}.pdf"
        path.write_bytes(
            HTML(string="<p>x</p>").write_pdf(
                attachments=[Attachment(string=jsonlib.dumps(content), name="events.json")]
            )
        )
        files.append(str(path))
    out = io.StringIO()
    with pytest.raises(CommandError, match="5 report"):
        call_command("verify_report", *files, str(checked), stdout=out, stderr=io.StringIO())
    assert out.getvalue().count("DOES NOT VERIFY") == 5 and "verifies (" in out.getvalue()


def test_the_report_is_the_same_whatever_the_process_s_time_zone(world, committed):
    """The same case renders to the same bytes, whenever and in whichever zone it is rendered
    (this also holds two renders in one zone to the same bytes)."""
    from django.utils import timezone

    case = erased(world, committed)
    here = render(case, language="en")
    with timezone.override("America/New_York"):
        assert render(case, language="en") == here


def test_working_days_count_each_controller_s_own_holidays(cast, committed):
    import datetime as dt

    from reports import compliance

    _history(cast, committed)
    alone = compliance.figures([cast.a], dt.date(2026, 3, 1), dt.date(2026, 4, 30))
    cast.b.extra_holidays = ["2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    cast.b.save()
    both = compliance.figures([cast.a, cast.b], dt.date(2026, 3, 1), dt.date(2026, 4, 30))
    assert (both.median_days, both.p90_days) == (alone.median_days, alone.p90_days)


def test_working_days_to_decide_agree_with_the_legal_clock_at_every_edge_of_a_day(cast):
    """The compliance report finds a decision's working days by binary search of each working
    day's first instant (``_Calendar``: ``bisect`` here, ``width_bucket`` on PostgreSQL). At a
    local midnight, a microsecond before it and at noon, over a span with a weekend, a public
    holiday (Easter Monday) and a controller's own day off, both agree with the legal clock."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from legalclock.workdays import working_days_between
    from reports import compliance

    controller = cast.a
    controller.extra_holidays = ["2026-04-08"]
    controller.save()
    zone = ZoneInfo(controller.time_zone)
    calendar = compliance._Calendar(controller, dt.date(2026, 3, 30), dt.date(2026, 4, 20))
    instants = []
    for offset in range(0, 22, 3):
        midnight = dt.datetime.combine(
            dt.date(2026, 3, 30) + dt.timedelta(days=offset), dt.time(), tzinfo=zone
        )
        instants += [midnight, midnight - dt.timedelta(microseconds=1), midnight.replace(hour=12)]
    pairs = [(a, b) for a in instants for b in instants if a <= b]
    expected = [
        working_days_between(
            a,
            b,
            country=controller.country,
            tz=controller.time_zone,
            extra_holidays=controller.holiday_dates,
        )
        for a, b in pairs
    ]
    assert [calendar.days(a, b) for a, b in pairs] == expected
    assert len(set(expected)) > 5  # the pairs span many counts, not one
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT width_bucket(b, %s::timestamptz[]) - width_bucket(a, %s::timestamptz[])"
                " FROM unnest(%s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY AS p(a, b, i)"
                " ORDER BY i",
                [
                    calendar.working,
                    calendar.working,
                    [a for a, _b in pairs],
                    [b for _a, b in pairs],
                ],
            )
            assert [row[0] for row in cursor.fetchall()] == expected


def test_a_running_suspension_shows_and_is_not_overdue(cast, committed):
    import datetime as dt

    import time_machine

    from cases.intake import receive_case
    from reports import compliance

    with time_machine.travel(dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC), tick=False):
        case = committed(
            receive_case,
            controller=cast.a,
            right="access",
            name="Jan",
            email="j@example.org",
            language="en",
        )
        case = committed(perform, case, "confirm_email", actor=Actor.subject())
        case = committed(
            perform, case, "ask_subject", actor=Actor.officer(cast.officer_a), message="Which?"
        )
    case.refresh_from_db()
    assert case.paused_since is not None
    data = compliance.figures(
        [cast.a],
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 31),
        now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    assert data.suspended == 1 and data.overdue_now == 0 and data.open_now == 1
    assert "Suspended since" in text_of(render(case, language="en"))


def test_the_sweep_leaves_no_archive_file_without_its_row(cast, tmp_path, settings):
    from reports import archive
    from reports.models import Archive

    made = Archive.objects.create(
        requested_by=cast.auditor_a,
        controllers=[cast.a.pk],
        start="2026-03-01",
        end="2026-03-31",
        language="en",
        status="ready",
    )
    archive.folder().mkdir(parents=True, exist_ok=True)
    kept = archive.path_of(made)
    kept.write_bytes(b"zip")
    orphan = archive.folder() / "archive-999999.zip"
    orphan.write_bytes(b"zip")
    part = archive.folder() / f"archive-{made.pk + 1}-0123abcd.part"
    part.write_bytes(b"half")
    archive.sweep()
    assert kept.exists() and not orphan.exists() and not part.exists()
    cast.auditor_a.delete()  # its archives go with it, and their files at the next sweep
    archive.sweep()
    assert not kept.exists()


def test_a_long_report_is_laid_out_in_parts_whose_pages_run_on(world, committed, monkeypatch):
    """Parts keep WeasyPrint's memory bounded (bench/report): the PDF is still one document,
    PDF/A-3b with its events, its pages numbered on across the parts, the last saying it ends
    the report, and every event in order."""
    from reports import case_report

    case = erased(world, committed)
    whole = text_of(render(case, language="en"))
    monkeypatch.setattr(case_report, "PART_SIZE", 3000)
    real = case_report.render_pdf
    seen = []

    def render_pdf(html, **options):
        seen.append(len(html) if isinstance(html, list) else 1)
        return real(html, **options)

    monkeypatch.setattr(case_report, "render_pdf", render_pdf)
    pdf = render(case, language="en")
    assert seen[0] > 3  # laid out in parts
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and verify_embedded(pdf) == []
    pages = [page.extract_text() for page in reader.pages]
    footers = [text.rstrip().rsplit("\n", 1)[-1] for text in pages]
    assert footers == [f"{case.reference} page {n}" for n in range(1, len(pages) + 1)]
    assert f"End of case report {case.reference}." in pages[-1]
    text = "\n".join(pages)
    for seq in range(1, case.audit_count + 1):
        assert f"#{seq} " in text
    assert text.index("#1 ") < text.index("#2 ") < text.index("Integrity")

    def body(text):  # the lines, footers aside
        return [line for line in text.splitlines() if not line.startswith(case.reference + " ")]

    assert body(text) == body(whole)  # the same report, only cut into more pages


def test_making_a_pdf_leaves_the_collector_as_it_found_it():
    import gc

    from cases.pdf import render_pdf

    assert gc.get_freeze_count() == 0
    render_pdf("<p>x</p>")
    assert gc.get_freeze_count() == 0  # frozen only while it ran
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        render_pdf("<p>x</p>")
        assert gc.get_freeze_count() == frozen  # a process's own freeze is left alone
    finally:
        gc.unfreeze()
