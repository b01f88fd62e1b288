"""The steps table: each step declared once, and every page reads it (workflow, admin, status
page, state graph). Adding a step is one entry (plus a transition if it changes the state), or
one registration by the room above the core that owns it."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from cases import iddocs
from cases.actors import Actor
from cases.graph import KEEP_STATE, transitions
from cases.links import status_path
from cases.models import Case, CaseEvent, State
from cases.selectors import case_file
from cases.steps import STEPS, Field, Step, register
from cases.workflow import StepNotAllowed, available_steps, perform
from fulfilment.changes import steps as change_steps

from .pdfs import MINIMAL_PDF

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
TEMPLATES = settings.BASE_DIR / "templates" / "emails"


def test_every_transition_of_the_model_is_a_step_and_every_step_s_transition_exists():
    declared = {step.transition for step in STEPS.values() if step.transition}
    model = {t.name for t in Case().get_all_state_transitions()}
    assert declared == model


def test_every_step_is_complete():
    for step in STEPS.values():
        assert step.who, step.name
        assert str(step.label) and str(step.event), step.name
        if step.mail:
            for part in ("subject.txt", "body.txt", "body.html"):
                assert (TEMPLATES / step.mail / part).is_file(), f"{step.name}: {part}"
        if step.fields or "officer" in step.who:
            assert "officer" in step.who or not step.fields, step.name
        if step.subject_fields or step.subject_label:
            assert "subject" in step.who, step.name
            assert str(step.subject_button), step.name
        for name in step.records:
            assert hasattr(Case, name), step.name


def test_the_graph_draws_each_state_changing_step_and_no_other(cast):
    drawn = {name for _source, _target, name in transitions()}
    expected = {s.name for s in STEPS.values() if s.transition and s.name not in KEEP_STATE}
    assert drawn == expected
    # reject_identity is refuse narrowed to identity review: drawn from there only.
    assert {(s, t) for s, t, name in transitions() if name == "reject_identity"} == {
        ("identity_review", "refused")
    }


def test_the_case_page_offers_exactly_the_officer_s_available_steps_with_their_labels(
    cast, submit, client
):
    case = submit(cast.a)
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    offered = re.findall(rf"/admin/dsar/case/{case.pk}/step/(\w+)/", html)
    assert offered == available_steps(case, Actor.officer(cast.officer_a))
    assert offered == [
        "ask_identity",
        "ask_subject",
        "ask_question",
        "extend",
        "prepare_response",
        "answer_no_data",
        "refuse",
        "withdraw",
        "message",
    ]
    with translation.override("en"):  # the request's middleware reset the thread's language
        for name in offered:
            assert str(STEPS[name].label) in html


SUBJECT_OFFERS = {
    "in_progress": ["withdraw"],
    "awaiting_subject": ["answer", "withdraw"],
    "awaiting_identity": ["submit_identity", "withdraw"],
}


@pytest.mark.parametrize("state", list(SUBJECT_OFFERS))
def test_the_status_page_offers_exactly_the_subject_s_available_steps(cast, submit, client, state):
    case = submit(cast.a)
    officer = Actor.officer(cast.officer_a)
    if state == "awaiting_subject":
        case = perform(case, "ask_subject", actor=officer, message="Which account?")
    if state == "awaiting_identity":
        case = perform(
            case,
            "ask_identity",
            actor=officer,
            message="ID please",
            doubt="The address differs from the one on file.",
        )
    assert case.state == state
    client.cookies["django_language"] = "en"
    html = client.get(status_path(case)).content.decode()
    offered = re.findall(r'name="action" value="(\w+)"', html)
    expected = [n for n in available_steps(case, Actor.subject()) if STEPS[n].subject_label]
    assert offered == expected == SUBJECT_OFFERS[state]
    with translation.override("en"):
        for name in offered:
            assert str(STEPS[name].subject_label) in html


@pytest.fixture
def table():
    """The steps table as it is, restored after the test (a registration lasts the process)."""
    before = dict(STEPS)
    yield STEPS
    STEPS.clear()
    STEPS.update(before)


def test_a_room_s_steps_are_its_own_registered_where_their_buttons_stand():
    # Declared by fulfilment's changes room, added by its AppConfig.ready.
    assert STEPS["approve_plan"] is change_steps.APPROVE_PLAN
    assert STEPS["lift_restriction"] is change_steps.LIFT_RESTRICTION
    names = list(STEPS)
    assert names.index("approve_plan") == names.index("prepare_response") - 1
    assert names.index("lift_restriction") == names.index("message") - 1


@pytest.mark.parametrize("name", ["refuse", "approve_plan"])
def test_a_step_whose_name_is_taken_is_refused(table, name):
    """The core's step or another room's: the table stays as it was."""
    before = list(table.items())
    step = Step(name, label=gettext_lazy("x"), event=gettext_lazy("x"), who=frozenset({"officer"}))
    with pytest.raises(ValueError, match=name):
        register(step)
    assert list(table.items()) == before


def test_a_step_placed_before_no_step_is_refused(table):
    before = list(table.items())
    step = Step("x", label=gettext_lazy("x"), event=gettext_lazy("x"), who=frozenset({"officer"}))
    with pytest.raises(ValueError, match="no step 'nothing'"):
        register(step, before="nothing")
    assert list(table.items()) == before


def test_a_new_step_is_one_registration(cast, submit, client, table, committed):
    """A step that changes no state, added by a room: the admin offers it where the room put
    it, its form asks its field, the workflow records its event under its label and sends no
    mail."""
    note = Step(
        "note_call",
        label=gettext_lazy("Record a phone call"),
        event=gettext_lazy("Phone call recorded"),
        who=frozenset({"officer"}),
        only_from=(State.IN_PROGRESS,),
        fields=(Field("summary", "text", gettext_lazy("What was said")),),
    )
    register(note, before="extend")
    with pytest.raises(ValueError):  # once only
        register(note)
    case = submit(cast.a)
    offered = available_steps(case, Actor.officer(cast.officer_a))
    assert offered[offered.index("note_call") + 1] == "extend"
    assert "note_call" not in available_steps(case, Actor.subject())

    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    url = reverse("admin:dsar_case_step", args=[case.pk, "note_call"])
    assert "What was said" in client.get(url).content.decode()
    assert client.post(url, {"summary": ""}).status_code == 400  # the field is required
    response = committed(client.post, url, {"summary": "Asked about the deadline."})
    assert response.status_code == 302

    event = CaseEvent.objects.filter(case=case).last()
    assert (event.action, event.from_state, event.to_state) == (
        "note_call",
        "in_progress",
        "in_progress",
    )
    assert event.data == {"summary": "Asked about the deadline."}
    page = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert "Phone call recorded" in page
    with translation.override("en"):
        assert case_file(case, user=cast.officer_a).timeline[-1].label == "Phone call recorded"


def test_a_step_narrowed_by_only_from_is_refused_elsewhere(cast, submit):
    case = submit(cast.a)
    officer = Actor.officer(cast.officer_a)
    assert "reject_identity" not in available_steps(case, officer)  # in progress, no copy
    assert "refuse" in available_steps(case, officer)
    with pytest.raises(StepNotAllowed):
        perform(case, "reject_identity", actor=officer, reason="Another name")
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS


def test_a_message_needs_a_confirmed_address(cast, submit):
    case = submit(cast.a, confirm=False)
    with pytest.raises(StepNotAllowed):
        perform(case, "message", actor=Actor.officer(cast.officer_a), message="Hello")
    assert not case.messages.exists()


def test_the_subject_uploads_the_awaited_id_copy_on_the_status_page(cast, submit, client):
    case = submit(cast.b)  # Defero asks an ID copy for access: it waits for one
    upload = io.BytesIO(MINIMAL_PDF)
    upload.name = "id.pdf"
    response = client.post(
        status_path(case),
        {
            "action": "submit_identity",
            "submit_identity-id_document": upload,
            "submit_identity-note": "Photo blacked out.",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("?done=submit_identity")
    case.refresh_from_db()
    assert case.state == State.IDENTITY_REVIEW and case.id_documents.count() == 1
    assert case.messages.get().body == "Photo blacked out."
    assert CaseEvent.objects.filter(case=case).last().action == "submit_identity"


def test_the_upload_note_is_at_most_2000_characters(cast, submit, client):
    case = submit(cast.b)
    upload = io.BytesIO(MINIMAL_PDF)
    upload.name = "id.pdf"
    response = client.post(
        status_path(case),
        {
            "action": "submit_identity",
            "submit_identity-id_document": upload,
            "submit_identity-note": "x" * 2001,
        },
    )
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.state == State.AWAITING_IDENTITY and not case.id_documents.exists()


def test_each_step_s_declared_fields_are_the_form_s_fields(cast, submit, client):
    case = submit(cast.a)
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    for name in ("ask_subject", "extend", "refuse", "prepare_response", "message"):
        html = client.get(reverse("admin:dsar_case_step", args=[case.pk, name])).content.decode()
        names = re.findall(r'<(?:input|textarea|select)[^>]* name="(\w+)"', html)
        declared = [f.name for f in STEPS[name].fields]
        assert [n for n in names if n != "csrfmiddlewaretoken"] == declared, name


def test_the_officer_s_message_field_names_the_subject_s_language(cast, submit, client):
    case = submit(cast.a, language="en")
    client.force_login(cast.officer_a)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("admin:dsar_case_step", args=[case.pk, "message"])).content.decode()
    assert "Write it in English, the language the subject used." in html


def test_a_step_that_fixes_an_argument_cannot_be_given_another(cast, submit):
    """reject_identity is a refusal on Art. 12(6) whatever ground the caller passes."""
    case = submit(cast.b)  # Defero asks an ID copy for access: confirmed, it waits for one
    assert case.state == State.AWAITING_IDENTITY
    copy = iddocs.CheckedDocument(b"%PDF-1.4\n%%EOF", "application/pdf")
    case = perform(case, "submit_identity", actor=Actor.subject(), id_document=copy)
    assert case.state == State.IDENTITY_REVIEW and case.id_documents.count() == 1
    officer = Actor.officer(cast.officer_b)
    case = perform(case, "reject_identity", actor=officer, reason="Another name", ground="other")
    assert case.state == State.REFUSED and case.refusal_ground == "identity_not_confirmed"
    event = CaseEvent.objects.filter(case=case).last()
    assert event.action == "reject_identity" and event.ground == "identity_not_confirmed"
    assert event.data["id_document"]["result"] == "rejected"


def test_a_document_comes_only_with_a_step_that_asks_for_one(cast, submit):
    case = submit(cast.a)
    copy = iddocs.CheckedDocument(b"%PDF-1.4\n%%EOF", "application/pdf")
    with pytest.raises(ValidationError):
        perform(case, "withdraw", actor=Actor.subject(), id_document=copy)
    assert case.id_documents.count() == 0
    assert CaseEvent.objects.filter(case=case).count() == 2
