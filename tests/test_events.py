"""The registry of event types: every event the product writes has a human label in Dutch and
English, and its data reads as sentences, never as a Python dict."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation

from cases import events
from cases.actors import Actor
from cases.models import CaseEvent
from cases.selectors import case_file
from cases.steps import STEPS
from cases.workflow import assign, perform

pytestmark = pytest.mark.django_db


def event(action: str = "x", **data) -> CaseEvent:
    return CaseEvent(action=action, data=data, at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC))


def test_every_step_and_every_other_event_type_has_a_label_in_both_languages():
    for action in [*STEPS, *events.EVENT_TYPES]:
        with translation.override("en"):
            english = events.label(action)
        with translation.override("nl"):
            dutch = events.label(action)
        assert english and english != action, action
        assert dutch and dutch != english, action


def test_an_unknown_event_type_shows_its_code():
    assert events.label("retired_kind") == "retired_kind"


@pytest.mark.parametrize(
    ("data", "english"),
    [
        ({"channel": "web", "id_document": True}, ["Channel: Web form", "an ID copy came with it"]),
        ({"duplicate_of": "DSAR-2026-000001"}, ["Possible duplicate of DSAR-2026-000001"]),
        (
            {"suspension": {"since": "2026-03-10T09:00:00+01:00", "days_added": 6}},
            ["Clock resumed: paused since March 10, 2026, 9 a.m., 6 days added"],
        ),
        ({"clock_paused": True}, ["Clock paused while the subject is asked"]),
        ({"late_refusal": True}, ["Sent after the first month (Art. 12(4))"]),
        ({"reason": "Twelve systems"}, ["Reasons: Twelve systems"]),
        (
            {"id_document": {"checked_by": "officer_a", "result": "approved", "deleted": 1}},
            ["ID copy checked by officer_a: approved; 1 copy deleted"],
        ),
        (
            {"checklist": {"name_matches": True, "masked": False}},
            [
                "The name on the document matches the request: yes; Nothing beyond what is "
                "needed is readable (photo, BSN, MRZ masked): no"
            ],
        ),
        ({"assigned_to": None}, ["Unassigned"]),
        (
            {
                "attachments": [
                    {"name": "id.pdf", "kept": "id_document"},
                    {"name": "x", "refused": "?"},
                ]
            },
            ["Attachments: id.pdf (kept as the ID copy); x (refused: ?)"],
        ),
        (
            {"mail": 3, "kind": "confirm", "to": "a@b.nl", "provider": "postmark"},
            ["Mail: confirm", "To: a@b.nl", "Provider: postmark"],
        ),
        ({"policy": "ab" * 32}, ["Policy file in force (SHA-256): " + "ab" * 32]),
        (
            {
                "notices": [
                    {"recipient": "derden", "status": "unreachable", "reason": "No consent."},
                    {"recipient": "verwerkers", "status": "sent"},
                ]
            },
            ["derden: not told (reason recorded): No consent.; verwerkers: told"],
        ),
        (
            {
                "notices": [
                    {
                        "recipient": "Google",
                        "status": "unreachable",
                        "reason": "",
                        "exception": "impossible",
                        "note": "Gepseudonimiseerd.",
                    },
                ]
            },
            ["Google: not told (reason recorded): it proves impossible (Gepseudonimiseerd.)"],
        ),
        (
            {"recipient": "derden", "decision": "not_disclosed", "note": "Register checked."},
            [
                "Recipient: derden",
                "None of the subject's data went to it",
                "Note: Register checked.",
            ],
        ),
        ({"something_new": [1, 2]}, ["something_new: [1, 2]"]),
        ({"suspension": "not a mapping"}, ["suspension: not a mapping"]),
    ],
)
def test_each_kind_of_data_reads_as_a_sentence(data, english):
    with translation.override("en"):
        assert events.describe(event(**data), tz="Europe/Amsterdam") == english


def test_data_reads_in_dutch_too():
    with translation.override("nl"):
        assert events.describe(event(channel="web", reason="Veel systemen")) == [
            "Kanaal: Webformulier",
            "Redenen: Veel systemen",
        ]


def test_the_case_page_shows_labels_and_sentences_never_codes_or_dicts(cast, submit, client):
    case = submit(cast.a)
    officer = Actor.officer(cast.officer_a)
    assign(case, actor=officer, assignee=cast.officer_a)
    perform(case, "extend", actor=officer, reason="Twelve <systems>")
    client.force_login(cast.auditor_a)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("admin:dsar_case_change", args=[case.pk])).content.decode()
    timeline = html[html.index('id="tl-h"') :]
    for text in (
        "Request received",
        "Channel: Web form",
        "Email address confirmed",
        "Assigned to officer_a",
        "Period extended (Art. 12(3))",
        "Reasons: Twelve &lt;systems&gt;",  # escaped
        "Awaiting email confirmation",  # states by their labels
    ):
        assert text in timeline, text
    for code in ("{&#x27;", "confirm_email<", ">receive<", "Twelve <systems>"):
        assert code not in timeline, code


def test_the_case_file_gives_the_auditor_no_steps_and_no_documents(cast, submit):
    case = submit(cast.a)
    auditor = case_file(case, user=cast.auditor_a)
    assert auditor.steps == [] and auditor.documents is None and not auditor.is_officer
    officer = case_file(case, user=cast.officer_a)
    assert [s.name for s in officer.steps][:2] == ["ask_identity", "ask_subject"]
    assert officer.documents == [] and officer.is_officer
    assert [entry.seq for entry in officer.timeline] == [1, 2]


def test_an_id_copy_deleted_when_the_request_ended_reads_unchecked_never_checked(
    cast, committed, english
):
    """An unconfirmed request that expires (or is withdrawn) with an ID copy: the copy is
    deleted, and the record says nobody decided on it, not "checked by system"."""
    import datetime as dt

    import time_machine

    from cases import iddocs
    from cases.intake import receive_case
    from cases.models import CaseEvent
    from reminders.tasks import expire_unconfirmed

    from .test_iddocs import png

    smartphoto = cast.a.__class__.objects.get(slug="smartphoto")
    moment = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False):
        case = committed(
            receive_case,
            controller=smartphoto,
            right="access",
            name="Jan",
            email="jan@example.org",
            language="en",
            id_document=iddocs.check_document(png()),
        )
    with time_machine.travel(moment + dt.timedelta(days=8), tick=False):
        committed(expire_unconfirmed)
    expired = CaseEvent.objects.get(case=case, action="expire")
    assert expired.data["id_document"] == {"unchecked": "expire", "deleted": 1}
    (line,) = [d for d in events.describe(expired) if "ID copy" in d]
    assert line.startswith("ID copy deleted unchecked: the request ended (Expired")
    assert "checked by" not in line
    # An event recorded before, read the same way.
    old = {"checked_by": "system", "result": "not decided (expire from unconfirmed)", "deleted": 1}
    assert "checked by" not in events.describe_item("id_document", old, dt.UTC)
