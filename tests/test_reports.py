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
from cases.models import CaseEvent
from cases.workflow import perform
from fulfilment import plans
from reports.case_report import embedded_events, render, verify_embedded

from .demo_world import SUBJECT, drive_to_work, officer_client, respond, settle

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
    from fulfilment import execute

    manual = case.executions.get(kind="manual")
    committed(execute.confirm_manual, manual, actor=actor, note_text="Bookkeeper confirmed.")
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
    assert "Recipients told (Art. 19)" in text
    assert "The audit trail verifies" in text and case.audit_head in text.replace("\n", "")
    assert "ID copies destroyed" in text or "No ID copy" in text
    assert SUBJECT.phone not in text  # the subject's data is not in the report
    # The embedded events re-verify the chain, with the audit key.
    document = embedded_events(pdf)
    assert len(document["events"]) == case.audit_count
    assert verify_embedded(pdf) == []


def test_a_report_in_dutch(world, committed):
    case = erased(world, committed)
    text = text_of(render(case, language="nl"))
    assert "Termijnen" in text and "Integriteit" in text


def test_the_same_case_renders_to_the_same_bytes(world, committed):
    case = erased(world, committed)
    assert render(case, language="en") == render(case, language="en")


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
