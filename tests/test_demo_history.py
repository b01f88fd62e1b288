"""The demo's history (demo/history.py): months of requests, made through the real path."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from cases.audit import verify_chain
from cases.models import CaseEvent, OutgoingMail, State, Suspension
from cases.models.grounds import LEGACY_GROUNDS, REFUSAL_GROUNDS
from cases.steps import STEPS
from controllers.models import Membership, Role
from demo import history
from fulfilment.hooks import EVENT_TYPES
from fulfilment.models import (
    Change,
    DownloadCode,
    Notice,
    Package,
    PackageStatus,
    Plan,
    PlanStatus,
    Search,
)

SLUGS = {"contractstatus", "defero", "smart-site", "smartlockr", "smartphoto"}


def _add_officers(controllers) -> None:
    for controller in controllers:
        officer = get_user_model().objects.create_user(f"officer-{controller.slug}", is_staff=True)
        Membership.objects.create(user=officer, controller=controller, role=Role.OFFICER)


@pytest.fixture(scope="class")
def seeded(seeded_once):
    """The demo's history, seeded once for a class of tests that only read it (it is the
    slowest thing they do: seeding per test cost a quarter of a minute each)."""
    return seeded_once(_seed)


def _seed() -> tuple[dt.datetime, dict[str, int]]:
    """As the demo has it: systems loaded, an officer each, the history seeded (its on-commit
    work run: the mail, the searches, packages and plans the steps asked workers for).
    Returns when seeding began, and what it made."""
    from pathlib import Path

    from django.conf import settings

    from controllers.models import Controller
    from demo import people

    from .conftest import load_systems

    load_systems()
    # The demo systems the history's searches and changes reach (a few people: the subjects
    # of the history are not among them, as in the demo).
    people.build(Path(settings.VAR_DIR) / "systems", count=30)
    _add_officers(Controller.objects.all())
    began = timezone.now()
    return began, history.seed()


def test_the_plan_is_the_same_each_time(loaded_controllers):
    now = timezone.now()
    smartphoto = loaded_controllers["smartphoto"]
    first = history.plan(smartphoto, now)
    assert history.plan(smartphoto, now) == first
    assert len({p.email for p in first}) == len(first)
    assert [p.received_at for p in first] == sorted(p.received_at for p in first)
    assert history.plan(loaded_controllers["defero"], now) != first


def test_seeding_needs_the_officers(loaded_controllers):
    with pytest.raises(ValueError, match="officer-"):
        history.seed()
    assert not history.seeded_cases().exists()


def test_the_demo_writes_no_mail_file_for_an_invalid_address(tmp_path, settings):
    from django.core.mail import EmailMessage, get_connection

    folder = tmp_path / "mailout"
    settings.EMAIL_FILE_PATH = folder
    connection = get_connection("dsar.mailfiles.EmailBackend")
    sent = connection.send_messages(
        [
            EmailMessage("a", "b", to=["past.subject@history.demo.invalid"]),
            EmailMessage("c", "d", to=["sanne.jansen@example.org"]),
        ]
    )
    assert sent == 2  # both count as sent, as a provider would accept both
    written = "".join(p.read_text() for p in folder.iterdir())
    assert "sanne.jansen@example.org" in written and "history.demo.invalid" not in written


# Each test in its own transaction, nested in the class's seed and rolled back to it.
@pytest.mark.django_db
class TestTheSeededHistory:
    """The tests that only read the history (a test's own changes are rolled back with it)."""

    def test_every_state_every_ground_on_time_and_late(self, seeded):
        _began, made = seeded
        cases = list(history.seeded_cases().select_related("controller"))
        assert set(made) == SLUGS and sum(made.values()) == len(cases)
        assert all(16 <= count <= 26 for count in made.values()), made
        assert {c.state for c in cases} == set(State.values)
        refused = [c for c in cases if c.state == State.REFUSED]
        # Each on a ground the law gives for its right (cases.models.grounds), and many of them.
        assert all(c.refusal_ground in REFUSAL_GROUNDS[c.right] for c in refused)
        assert len({c.refusal_ground for c in refused}) >= 9
        assert not {c.refusal_ground for c in refused} & LEGACY_GROUNDS
        for slug in SLUGS:
            states = {c.state for c in cases if c.controller.slug == slug}
            assert {
                State.UNCONFIRMED,
                State.IN_PROGRESS,
                State.AWAITING_SUBJECT,
                State.READY,
                State.COMPLETED,
                State.REFUSED,
                State.WITHDRAWN,
                State.EXPIRED,
            } <= states, slug
        # Where the statement asks an ID copy for access, the identity check is seen open too.
        assert {c.controller.slug for c in cases if c.state == State.IDENTITY_REVIEW} == {
            "defero",
            "smartlockr",
            "smartphoto",
        }
        # The copy those statements demand of everyone is no doubt about this subject: the clock
        # runs while it is awaited (EDPB 01/2022 §159).
        awaiting = [c for c in cases if c.state == State.AWAITING_IDENTITY]
        assert awaiting and not any(c.paused_since for c in awaiting)
        # Every pause is a clarification asked without undue delay, with its reason recorded.
        paused = [c for c in cases if c.paused_since]
        assert paused and {c.pause_reason for c in paused} == {"clarification"}
        assert all((c.paused_since - c.received_at).days <= 3 for c in paused)
        assert set(Suspension.objects.filter(case__in=cases).values_list("reason", flat=True)) == {
            "clarification"
        }

        decided = [c for c in cases if c.state in (State.COMPLETED, State.REFUSED)]
        late = [c for c in decided if c.closed_at > c.effective_deadline]
        on_time = [c for c in decided if c.closed_at <= c.effective_deadline]
        assert len(late) >= 5 and len(on_time) >= 15
        completed = [c for c in cases if c.state == State.COMPLETED]
        assert any(c.extended_at is not None for c in completed)
        assert any(c.paused_days > 0 for c in completed)
        # Still open: one in progress long past its deadline at each controller, one extended, one
        # waiting for the subject's answer with the clock paused.
        now = timezone.now()
        overdue = [c for c in cases if c.state == State.IN_PROGRESS and c.effective_deadline < now]
        assert {c.controller.slug for c in overdue} == SLUGS
        assert any(c.is_open and c.extended_at is not None for c in cases)
        assert any(c.state == State.AWAITING_SUBJECT and c.paused_since for c in cases)
        # A refusal sent after the first month is flagged in its event (Art. 12(4)).
        refusals = CaseEvent.objects.filter(case__in=cases, to_state=State.REFUSED)
        assert any(e.data.get("late_refusal") for e in refusals)
        # The subject, the officer and the expiry sweep each took their own steps.
        kinds = set(CaseEvent.objects.filter(case__in=cases).values_list("actor_kind", flat=True))
        assert kinds == {"subject", "officer", "system"}
        # ID copies: destroyed once identity was decided or the request ended, kept while open.
        assert not any(c.id_documents.exists() for c in cases if c.closed_at)
        assert all(c.id_documents.exists() for c in cases if c.state == State.IDENTITY_REVIEW)

    def test_the_history_is_genuine_and_lies_in_the_past_months(self, seeded):
        # Seeded committed: the work a step leaves for after commit ran (the mail, the plan a
        # change's hook asks a worker for), as in the demo.
        cases = list(history.seeded_cases())
        now = timezone.now()
        for case in cases:
            assert verify_chain(case) is None, case.reference
            moments = list(case.events.order_by("seq").values_list("at", flat=True))
            assert moments == sorted(moments), case.reference
            assert moments[0] == case.received_at and moments[-1] < now
            # The step that closed it is the last step (what follows is fulfilment's: the
            # package released, downloaded, expired; the decision's mail sent).
            steps = [e.at for e in case.events.order_by("seq") if e.action in STEPS]
            assert case.closed_at is None or case.closed_at == steps[-1]
            # Its mail was written and sent when the story wrote it, months ago, not today.
            for mail in case.outgoing_mail.all():
                assert mail.status == "sent" and mail.created_at <= mail.sent_at < now, mail
        received = sorted(c.received_at for c in cases)
        assert now - dt.timedelta(days=200) < received[0] < now - dt.timedelta(days=150)
        assert received[-1] < now - dt.timedelta(hours=6)
        # References number in the order of receipt, across the controllers.
        by_year: dict[str, list[str]] = {}
        for case in sorted(cases, key=lambda c: c.received_at):
            by_year.setdefault(case.reference[:9], []).append(case.reference)
        assert all(refs == sorted(refs) for refs in by_year.values())
        # The mail to the subjects went to addresses that reach no one (the rest went to the
        # systems' owners: a manual search or change asked of them).
        mail = OutgoingMail.objects.filter(case__in=cases)
        assert mail.exists() and not mail.filter(status="queued").exists()
        assert all(
            m.to.endswith("@history.demo.invalid") or m.kind in ("manual_task", "manual_change")
            for m in mail
        )

    def test_fulfilment_lies_in_each_cases_own_past(self, seeded):
        """Searches, packages, codes, plans, changes and notices of a seeded request, and their
        events, are dated between its receipt and the moment seeding began: one clock."""
        began, _made = seeded
        cases = {c.pk: c for c in history.seeded_cases()}
        rows = [
            (Search, ("created_at", "finished_at", "answered_at", "next_attempt_at")),
            (Package, ("created_at", "built_at", "released_at", "ended_at")),
            (Plan, ("made_at", "approved_at")),
            (Change, ("finished_at", "answered_at")),
            (Notice, ("decided_at", "sent_at", "answered_at")),
        ]
        checked = 0
        for model, fields in rows:
            for row in model.objects.filter(case__in=cases):
                for name in fields:
                    moment = getattr(row, name)
                    if moment is not None:
                        assert cases[row.case_id].received_at <= moment < began, (row, name)
                        checked += 1
        for code in DownloadCode.objects.filter(package__case__in=cases).select_related("package"):
            assert cases[code.package.case_id].received_at <= code.created_at < began
            assert code.used_at is not None and code.used_at < began
        events = CaseEvent.objects.filter(case__in=cases, action__in=set(EVENT_TYPES))
        assert events.count() > 100 and checked > 100
        for event in events:
            assert cases[event.case_id].received_at <= event.at < began, event

    def test_access_is_packaged_and_erasure_carried_out(self, seeded):
        """Completed access requests have a released package the subject downloaded; executed
        erasures an approved plan, verified changes and their recipients' notices."""
        from controllers.models import Right

        cases = history.seeded_cases()
        access = cases.filter(right=Right.ACCESS, state=State.COMPLETED)
        assert access.count() >= 10
        for case in access:
            package = case.packages.exclude(status=PackageStatus.SUPERSEDED).get()
            assert package.released_at and package.downloads == 1, case.reference
            assert case.events.filter(action="package_downloaded").exists()
        erasures = cases.filter(right=Right.ERASURE, state=State.COMPLETED)
        assert erasures.count() >= 10
        for case in erasures:
            plan = case.plans.get(status=PlanStatus.APPROVED)
            assert plan.changes.filter(status="done").exists(), case.reference
            changed = case.events.filter(action="system_changed")
            assert any(e.data.get("verified") for e in changed), case.reference
            assert plan.notices.exists() and not plan.notices.filter(status="pending").exists()
            assert case.events.filter(action="completion_letter").exists()

    def test_case_reports_show_packages_plans_and_notices(self, seeded):
        import io

        from django.core.management import call_command
        from pypdf import PdfReader

        from controllers.models import Right
        from reports.case_report import render

        cases = history.seeded_cases().filter(state=State.COMPLETED).order_by("reference")
        for right, words in (
            (Right.ACCESS, ("Systems searched", "Data package")),
            (Right.ERASURE, ("Plan of changes", "Recipients (Art. 19)")),
        ):
            case = cases.filter(right=right).first()
            pdf = render(case, language="en")
            text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
            for word in words:
                assert word in text, (right, word)
        # Every chain verifies, fulfilment's events in it.
        out = io.StringIO()
        call_command("verify_audit", stdout=out, stderr=out)
        assert "BROKEN" not in out.getvalue()

    def test_seeding_again_adds_nothing(self, seeded):
        counts = (
            history.seeded_cases().count(),
            CaseEvent.objects.count(),
            OutgoingMail.objects.count(),
        )
        assert history.seed() == {}
        assert (
            history.seeded_cases().count(),
            CaseEvent.objects.count(),
            OutgoingMail.objects.count(),
        ) == counts

    def test_the_compliance_report_of_the_demo_equals_a_hand_count(
        self, seeded, loaded_controllers
    ):
        """The figures, their CSV and their PDF, against a count made here case by case."""
        import csv
        import io
        import statistics
        from collections import Counter
        from zoneinfo import ZoneInfo

        from pypdf import PdfReader

        from legalclock.workdays import working_days_between
        from reports import compliance

        cases = list(history.seeded_cases())
        controllers = sorted(loaded_controllers.values(), key=lambda c: c.legal_name)
        today = timezone.localdate()
        data = compliance.figures(controllers, today - dt.timedelta(days=400), today)
        # Access is the right most asked for, as at a real controller.
        assert max(data.by_right, key=data.by_right.get) == "access"
        decided = [c for c in cases if c.state in (State.COMPLETED, State.REFUSED)]
        assert data.received == len(cases)
        assert data.decided == len(decided)
        # Every decision's mail left when it was written (the history sends it at the step's time).
        assert all(c.decision_sent_at == c.closed_at for c in decided)
        assert data.not_communicated == 0
        assert data.on_time == sum(c.decision_sent_at <= c.effective_deadline for c in decided)
        assert data.on_time_statutory == sum(
            c.decision_sent_at <= c.statutory_deadline for c in decided
        )
        assert data.refusals == dict(
            Counter(c.refusal_ground for c in cases if c.state == State.REFUSED)
        )
        assert data.by_right == dict(Counter(c.right for c in cases))  # order aside
        assert data.extended == sum(c.extended_at is not None for c in cases)
        now = timezone.now()
        # Open as the queue counts it (confirmed, not ended); a running suspension is not overdue.
        from cases.models import OPEN_STATES

        assert data.overdue_now == sum(
            c.state in OPEN_STATES and c.effective_deadline < now and c.paused_since is None
            for c in cases
        )
        assert data.open_now == sum(c.state in OPEN_STATES for c in cases)
        assert data.by_state == dict(Counter(c.state for c in cases))
        assert data.by_channel == dict(Counter(c.channel for c in cases))
        # By month of receipt, in each request's own controller's time zone.
        months = Counter(
            c.received_at.astimezone(ZoneInfo(c.controller.time_zone)).strftime("%Y-%m")
            for c in cases
        )
        assert {m: n for m, n, _d, _o in data.by_month} == dict(months)
        # Asked later, sent later, or sent with the request because the form demanded it.
        asked = set(
            CaseEvent.objects.filter(action__in=("ask_identity", "submit_identity")).values_list(
                "case_id", flat=True
            )
        ) | {c.pk for c in cases if c.events.get(action="receive").data["id_document"]}
        assert data.id_asked == sum(c.pk in asked for c in cases) > 0
        from cases.models import Suspension

        assert data.suspensions == Suspension.objects.filter(case__in=cases).count() + sum(
            c.paused_since is not None for c in cases
        )
        assert data.id_asked_flagged == sum(
            c.pk in asked and c.declaration.verification == "id_document" for c in cases
        )
        # Working days to the decision's sending, by the legal clock's own count a case (the
        # database counts them on PostgreSQL, Python elsewhere: both must agree with this).
        days = sorted(
            working_days_between(
                c.received_at,
                c.decision_sent_at,
                country=c.controller.country,
                tz=c.controller.time_zone,
                extra_holidays=c.controller.holiday_dates,
            )
            for c in decided
        )
        assert data.median_days == float(statistics.median(days))
        assert data.p90_days == float(days[-(-90 * len(days) // 100) - 1])
        rows = dict(csv.reader(io.StringIO(compliance.figures_csv(data))))
        assert rows["Requests received"] == str(len(cases))
        assert rows["Decided and sent by the effective deadline"].startswith(f"{data.on_time} (")
        pdf = compliance.render(data)
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        assert f"Requests received {len(cases)}" in text
        assert rows["Decided and sent by the effective deadline"] in text

    def test_every_kind_of_demo_case_downloads_as_a_report_that_verifies(self, seeded):
        """One seeded case of each state: its report shows its deadlines and a verified chain, and
        its embedded events verify."""
        import io

        from pypdf import PdfReader

        from reports.case_report import render, verify_embedded

        seen: dict[str, object] = {}
        for case in history.seeded_cases().select_related("controller").order_by("reference"):
            seen.setdefault(case.state, case)
        assert set(seen) == set(State.values)
        for state, case in seen.items():
            pdf = render(case, language="en")
            text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
            assert "Statutory (one month)" in text, state
            assert "The audit trail verifies" in text, state
            assert verify_embedded(pdf) == [], state
            if state == State.COMPLETED:
                assert "met:" in text or "MISSED" in text
