"""The rights that change data, end to end on the demo systems: plan (a dry run), approval of
exactly the reviewed plan, execution and verification, Art. 19 notices, the completion letter."""

from __future__ import annotations

import sqlite3

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from cases.actors import Actor
from cases.models import CaseEvent, State
from cases.workflow import perform
from fulfilment import plans
from fulfilment.find import find_subject
from fulfilment.models import ExecutionStatus, NoticeStatus, PlanStatus

from .demo_world import SUBJECT, actions, drive_to_work

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def rows(world, file: str, sql: str, *args) -> list[tuple]:
    db = sqlite3.connect(world["folder"] / file)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def counts(controller) -> dict[str, dict[str, int]]:
    return {
        f.system: {t.table: t.rows for t in f.tables}
        for f in find_subject(controller, {"email": SUBJECT.email})
    }


def approve(committed, case, officer):
    plan = plans.current(case)
    assert plan is not None and plan.status == PlanStatus.DRAFT
    return committed(perform, case, "approve_plan", actor=Actor.officer(officer), plan=plan.sha256)


def finish(committed, case, officer) -> None:
    officer_actor = Actor.officer(officer)
    case = committed(perform, case, "prepare_response", actor=officer_actor, response="Done.")
    committed(perform, case, "complete", actor=officer_actor)


def test_an_erasure_at_defero_deletes_keeps_what_the_law_keeps_and_says_so(
    world, committed, mailoutbox
):
    defero, officer = world["controllers"]["defero"], world["officer"]
    before = counts(defero)
    assert before["klantenadministratie"] == {"klanten": 1, "contactmomenten": 2, "nieuwsbrief": 1}
    case = drive_to_work(committed, defero, officer, "erasure")
    plan = plans.current(case)  # made by itself once identity was settled (a dry run)
    assert plan is not None
    assert counts(defero) == before  # the dry run wrote nothing
    systems = {s["system"]: s for s in plan.body["systems"]}
    tables = {t["table"]: t for t in systems["klantenadministratie"]["tables"]}
    assert tables["klanten"] == {
        "table": "klanten",
        "label": "Klanten",
        "op": "delete",
        "rows": 1,
    }
    assert systems["financiele-administratie"]["task"] == "keep"
    assert "52" in systems["financiele-administratie"]["keep_ground"]
    # Only the plan that was reviewed is approved.
    with pytest.raises(ValidationError, match="changed since you reviewed"):
        perform(case, "approve_plan", actor=Actor.officer(officer), plan="0" * 64)
    approve(committed, case, officer)
    after = counts(defero)
    assert after["klantenadministratie"] == {"klanten": 0, "contactmomenten": 0, "nieuwsbrief": 0}
    others = rows(world, "defero-klanten.sqlite3", "SELECT count(*) FROM klanten")[0][0]
    assert others == 30  # everybody else is still there
    executions = {e.system_name: e for e in case.executions.all()}
    assert executions["klantenadministratie"].status == ExecutionStatus.DONE
    assert executions["financiele-administratie"].status == ExecutionStatus.MANUAL
    # Not finished while the bookkeeper has not confirmed the restriction.
    with pytest.raises(ValidationError, match="Not every change is done"):
        perform(case, "prepare_response", actor=Actor.officer(officer), response="x")
    from fulfilment import execute

    committed(
        execute.confirm_manual,
        executions["financiele-administratie"],
        actor=Actor.officer(officer),
        note_text="Boekhouder bevestigt per mail: facturen gemarkeerd als beperkt.",
    )
    notices = {n.recipient: n for n in case.notices.all()}
    assert notices["verwerkers"].status == NoticeStatus.SENT
    assert notices["derden"].status == NoticeStatus.UNREACHABLE
    assert any(m.to == ["privacy@boekhouder.example"] for m in mailoutbox)
    finish(committed, case, officer)
    case.refresh_from_db()
    assert case.state == State.COMPLETED
    letter = next(m for m in mailoutbox if m.to == [SUBJECT.email] and "What was done" in m.subject)
    assert "1 record of Klanten deleted" in letter.body
    assert "2 records of Contactmomenten deleted" in letter.body
    assert "Algemene wet inzake rijksbelastingen" in letter.body
    assert "verwerkers" in letter.body and "derden" in letter.body
    assert "Autoriteit Persoonsgegevens" in letter.body
    trail = actions(case)
    for action in (
        "plan_made",
        "approve_plan",
        "system_changed",
        "recipients_notified",
        "completion_letter",
    ):
        assert action in trail
    assert CaseEvent.objects.get(case=case, action="approve_plan").data["plan"] == plan.sha256
