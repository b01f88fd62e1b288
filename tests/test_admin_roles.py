"""The role matrix: every admin URL of the request queue for every role, allowed or refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases import iddocs
from cases.actors import Actor
from cases.models import Case, CaseEvent, State
from cases.workflow import perform

from .pdfs import MINIMAL_PDF

pytestmark = pytest.mark.django_db

PDF = MINIMAL_PDF
ROLES = ["officer_a", "officer_b", "auditor_a", "staff_without_membership", "anonymous"]


@pytest.fixture
def case(cast, submit):
    """A request of controller A under identity review, with an ID document."""
    case = submit(cast.a)
    case = perform(
        case,
        "ask_identity",
        actor=Actor.officer(cast.officer_a),
        message="ID?",
        doubt="The request names another address.",
    )
    iddocs.store(case, iddocs.CheckedDocument(PDF, "application/pdf"))
    return perform(case, "submit_identity", actor=Actor.subject())


def login(client, cast, role):
    if role != "anonymous":
        client.force_login(getattr(cast, role))
        client.cookies["django_language"] = "en"
    return client


def snapshot(case: Case) -> tuple:
    case.refresh_from_db()
    return (
        case.state,
        case.assigned_to_id,
        case.extended_at,
        CaseEvent.objects.filter(case=case).count(),
        case.id_documents.count(),
    )


def refused(response) -> bool:
    if response.status_code in (403, 404, 405):
        return True
    location = response.get("Location", "")
    return response.status_code == 302 and ("/login/" in location or location == "/admin/")


def urls(case):
    step = lambda name: reverse("admin:dsar_case_step", args=[case.pk, name])  # noqa: E731
    document = case.id_documents.get()
    return {
        "list": ("get", reverse("admin:dsar_case_changelist"), {}),
        "change": ("get", reverse("admin:dsar_case_change", args=[case.pk]), {}),
        "history": ("get", reverse("admin:dsar_case_history", args=[case.pk]), {}),
        "delete": ("get", reverse("admin:dsar_case_delete", args=[case.pk]), {}),
        "add": ("get", reverse("admin:dsar_case_add"), {}),
        "document": (
            "get",
            reverse("admin:dsar_case_document", args=[case.pk, document.pk]),
            {},
        ),
        "step-get": ("get", step("approve_identity"), {}),
        "approve": ("post", step("approve_identity"), {"name_matches": "on"}),
        "ask": ("post", step("ask_identity"), {"message": "Again?", "doubt": "Unreadable."}),
        "extend": ("post", step("extend"), {"reason": "Many systems"}),
        "refuse": (
            "post",
            step("refuse"),
            {
                "ground": "unfounded_or_excessive",
                "reason": "The tenth identical request today.",
                "evidence": "Ten requests from this address today.",
            },
        ),
        "reject": ("post", step("reject_identity"), {"reason": "Another name"}),
        "withdraw": ("post", step("withdraw"), {}),
        "message": ("post", step("message"), {"message": "Hello"}),
        "complete-now": ("post", step("complete"), {}),  # not possible from identity review
        "action-assign": (
            "post",
            reverse("admin:dsar_case_changelist"),
            {"action": "assign_to_me", "_selected_action": [case.pk]},
        ),
        "action-refuse": (
            "post",
            reverse("admin:dsar_case_changelist"),
            {
                "action": "bulk_refuse",
                "_selected_action": [case.pk],
                "apply": "1",
                "ground": "unfounded_or_excessive",
                "reason": "Automated submissions.",
                "evidence": "Two hundred requests in a minute from one address.",
            },
        ),
        "controller": (
            "get",
            reverse("admin:controllers_controller_change", args=[case.controller_id]),
            {},
        ),
        "memberships": ("get", reverse("admin:controllers_membership_changelist"), {}),
    }


# What each role gets; everything not listed for a role is refused and changes nothing.
ALLOWED = {
    "officer_a": {"list", "change", "history", "add", "document", "step-get", "controller"},
    "officer_b": {"list", "add"},
    "auditor_a": {"list", "change", "history", "controller"},
    "staff_without_membership": set(),
    "anonymous": set(),
}
# Allowed POSTs each change the case; they are tried one by one on fresh cases below.
OFFICER_A_POSTS = [
    "approve",
    "reject",
    "ask",
    "extend",
    "refuse",
    "withdraw",
    "message",
    "action-assign",
    "action-refuse",
]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_urls(cast, case, client, role):
    login(client, cast, role)
    before = snapshot(case)
    for name, (method, url, data) in urls(case).items():
        if role == "officer_a" and name in OFFICER_A_POSTS:
            continue
        response = getattr(client, method)(url, data)
        allowed = name in ALLOWED[role]
        if allowed:
            assert response.status_code == 200, f"{role} {name}: {response.status_code}"
        elif name.startswith("action-") and role in ("officer_b", "auditor_a"):
            # The list answers, but the case is outside the action's scope: nothing happens.
            assert response.status_code in (200, 302), f"{role} {name}"
        else:
            assert refused(response), f"{role} {name}: {response.status_code} should be refused"
        assert snapshot(case) == before, f"{role} {name} changed the case"


def test_an_officer_s_list_shows_only_their_controllers_requests(cast, case, client, submit):
    other = submit(cast.b)
    login(client, cast, "officer_b")
    html = client.get(reverse("admin:dsar_case_changelist")).content.decode()
    assert other.reference in html and case.reference not in html
    login(client, cast, "auditor_a")
    html = client.get(reverse("admin:dsar_case_changelist")).content.decode()
    assert case.reference in html and other.reference not in html


def test_the_auditor_sees_the_case_but_no_document_and_no_steps(cast, case, client):
    login(client, cast, "auditor_a")
    html = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert case.reference in html
    assert "Open the ID document" not in html
    assert "What you can do now" not in html
    assert reverse("admin:dsar_case_step", args=[case.pk, "approve_identity"]) not in html


@pytest.mark.parametrize("name", OFFICER_A_POSTS)
def test_each_allowed_post_of_the_officer_works(cast, case, client, name):
    login(client, cast, "officer_a")
    before = snapshot(case)
    _method, url, data = urls(case)[name]
    response = client.post(url, data)
    assert response.status_code in (200, 302), response.status_code
    assert snapshot(case) != before, f"{name} changed nothing"
    assert CaseEvent.objects.filter(case=case).count() == before[3] + 1


def test_a_step_the_state_does_not_allow_is_refused_with_403(cast, case, client):
    login(client, cast, "officer_a")
    before = snapshot(case)
    response = client.post(reverse("admin:dsar_case_step", args=[case.pk, "complete"]), {})
    assert response.status_code == 403
    assert snapshot(case) == before
    response = client.post(reverse("admin:dsar_case_step", args=[case.pk, "no_such_step"]), {})
    assert response.status_code == 403


def test_the_officer_opens_the_document_and_the_approval_deletes_it(cast, case, client):
    login(client, cast, "officer_a")
    document = case.id_documents.get()
    response = client.get(reverse("admin:dsar_case_document", args=[case.pk, document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert "no-store" in response["Cache-Control"]
    client.post(
        reverse("admin:dsar_case_step", args=[case.pk, "approve_identity"]),
        {"name_matches": "on"},
    )
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS and not case.id_documents.exists()


def test_rejecting_identity_refuses_with_art_12_6_and_deletes_the_copy(cast, case, client):
    login(client, cast, "officer_a")
    response = client.post(
        reverse("admin:dsar_case_step", args=[case.pk, "reject_identity"]),
        {"reason": "The document shows another name."},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.REFUSED and case.refusal_ground == "identity_not_confirmed"
    assert not case.id_documents.exists()


def test_the_identity_checklist_is_kept_in_the_event(cast, case, client):
    login(client, cast, "officer_a")
    client.post(
        reverse("admin:dsar_case_step", args=[case.pk, "approve_identity"]),
        {"name_matches": "on", "masked": "on"},
    )
    event = CaseEvent.objects.filter(case=case).last()
    assert event.data["checklist"] == {"name_matches": True, "masked": True}
    assert event.data["id_document"]["result"] == "approved"


def test_asking_for_a_new_document_deletes_the_one_under_review(cast, case, client):
    login(client, cast, "officer_a")
    client.post(
        reverse("admin:dsar_case_step", args=[case.pk, "ask_identity"]),
        {"message": "Unreadable.", "doubt": "The scan cannot be read."},
    )
    case.refresh_from_db()
    assert case.state == State.AWAITING_IDENTITY and not case.id_documents.exists()
    assert (
        "new document was asked for"
        in CaseEvent.objects.filter(case=case).last().data["id_document"]["result"]
    )


def test_a_pdf_is_downloaded_never_rendered_from_the_admin_origin(cast, case, client):
    login(client, cast, "officer_a")
    document = case.id_documents.get()
    response = client.get(reverse("admin:dsar_case_document", args=[case.pk, document.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_an_administrator_sees_every_queue_but_no_id_copy_and_no_steps(cast, case, client):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser(
        "root", "root@example.org", "pw-for-tests-2026"
    )
    client.force_login(root)
    client.cookies["django_language"] = "en"
    assert case.reference in client.get(reverse("admin:dsar_case_changelist")).content.decode()
    html = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    assert "What you can do now" not in html and "Open the ID document" not in html
    document = case.id_documents.get()
    response = client.get(reverse("admin:dsar_case_document", args=[case.pk, document.pk]))
    assert response.status_code == 403


def test_an_officer_confirms_a_request_that_arrived_by_email(cast, client, committed):
    from cases.intake import receive_case

    case = committed(
        receive_case,
        controller=cast.a,
        right="access",
        name="Per mail",
        email="mail@example.org",
        language="nl",
        channel="email",
    )
    assert case.state == State.UNCONFIRMED
    login(client, cast, "officer_a")
    response = client.post(reverse("admin:dsar_case_step", args=[case.pk, "confirm_email"]), {})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS


def _case_in(cast, submit, committed, state: str) -> Case:
    """A request of controller A in the given state, reached through the workflow."""
    from cases.intake import receive_case

    officer = Actor.officer(cast.officer_a)
    if state == "unconfirmed_email":
        return committed(
            receive_case,
            controller=cast.a,
            right="access",
            name="Mail",
            email="m@example.org",
            language="nl",
            channel="email",
        )
    case = submit(cast.a)
    if state == "identity_review":
        case = perform(case, "ask_identity", actor=officer, message="ID?", doubt="Other name.")
        iddocs.store(case, iddocs.CheckedDocument(PDF, "application/pdf"))
        case = perform(case, "submit_identity", actor=Actor.subject())
    if state == "ready":
        case = perform(case, "prepare_response", actor=officer, response="Here.")
    return case


# step -> (state it is taken from, form data)
STEPS = {
    "confirm_email": ("unconfirmed_email", {}),
    "ask_identity": ("in_progress", {"message": "ID please", "doubt": "Other name."}),
    "approve_identity": ("identity_review", {"name_matches": "on"}),
    "reject_identity": ("identity_review", {"reason": "Another name"}),
    "ask_subject": ("in_progress", {"message": "Which account?"}),
    "extend": ("in_progress", {"reason": "Twelve systems"}),
    "prepare_response": ("in_progress", {"response": "Your data."}),
    "reopen": ("ready", {}),
    "complete": ("ready", {}),
    "refuse": ("in_progress", {"ground": "cannot_identify", "reason": "No match."}),
    "withdraw": ("in_progress", {}),
    "message": ("in_progress", {"message": "Hello"}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("step", list(STEPS))
def test_every_step_for_every_role(cast, submit, committed, client, role, step):
    state, data = STEPS[step]
    case = _case_in(cast, submit, committed, state)
    login(client, cast, role)
    before = snapshot(case)
    url = reverse("admin:dsar_case_step", args=[case.pk, step])
    get = client.get(url)
    post = client.post(url, data)
    if role == "officer_a":
        assert get.status_code == 200
        assert post.status_code == 302, post.content.decode()[:2000]
        assert snapshot(case)[3] == before[3] + 1  # exactly one event
    else:
        assert refused(get) and refused(post), (get.status_code, post.status_code)
        assert snapshot(case) == before


@pytest.mark.parametrize("role", ROLES)
def test_assign_to_someone_for_every_role(cast, submit, client, role):
    case = submit(cast.a)
    login(client, cast, role)
    before = snapshot(case)
    client.post(
        reverse("admin:dsar_case_changelist"),
        {
            "action": "assign_to_someone",
            "_selected_action": [case.pk],
            "apply": "1",
            "assignee": cast.officer_a.pk,
        },
    )
    after = snapshot(case)
    if role == "officer_a":
        assert after[1] == cast.officer_a.pk
    else:
        assert after == before
