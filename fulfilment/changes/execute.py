"""Executing an approved plan: one ``Change`` a system, run by Celery like a search.

Approval (the ``approve_plan`` or ``lift_restriction`` step) creates the changes in its
transaction; they run after commit. Each is claimed with a lease (``fulfilment.systems.jobs``), so a
killed worker's change is taken up again by the sweep, and retried on the same schedule as a
search. What a try does depends on the system:

- SQL: ``connectors.sqlchange.apply`` in one transaction on the system, the files the erased
  rows named removed, then ``verify`` in a new session; anything the plan meant to change that
  is still there fails the try. A second run (a retry, a restarted worker) finds nothing more
  to change and records the same counts: those of the approved plan, verified. A table that
  holds more of the subject's rows than the plan counted stops the change before it writes
  (an event says what was found and what the plan counted): the plan is made again.
- HTTP: the processor is asked (a request of the plan's purpose, named before it is sent so a
  retry asks once) and polled until it reports the request completed; its answer is kept.
- Manual: the system's owner gets the task by mail; an officer records the owner's answer in
  the case file (done as asked, or none of the subject's data there), who and when.

Nothing runs for a system whose declaration changed since the plan was approved (the plan is
made and approved again), nor for one removed from the systems file. When every change is
settled, the recipients are told (Art. 19) of what was changed, under this plan or one it
replaced (``settle``, by ``completion.concerned``); one that cannot be told without
an officer waits for them (``decide``). The record keeps the plan and the counts, never
the erased data; a rectification keeps the SHA-256 of each value it replaced, and an erasure
the keys of the rows it keeps while cutting their link to the subject (``Change.kept``: a
later access request of the subject finds them by these). Each change's
event says how it was established, by kind (``evidence``): searched again (SQL), confirmed by
an officer (manual), reported by the processor (HTTP).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail
from cases.models import Case, State
from controllers.access import is_officer, reminder_addresses
from controllers.models import Controller, RecipientKind, Right, SystemKind
from controllers.systems import SystemSpec, spec_of
from controllers.validators import has_control_characters

from ..models import (
    Change,
    ChangeStatus,
    Notice,
    NoticeException,
    NoticeStatus,
    Plan,
    PlanStatus,
)
from ..systems import jobs
from ..systems.connectors import sqlchange
from ..systems.connectors.base import ConnectorError, Now
from ..systems.connectors.http import Answer, HttpConnector
from ..systems.connectors.sql import SqlConnector
from ..systems.jobs import identities_for
from . import completion
from .plans import LIFT, NOTIFIED, UNWRITTEN, spec_hash

log = logging.getLogger(__name__)


class Outdated(jobs.Final):
    """The plan no longer matches the system: retrying cannot help, planning again can."""


def pseudonym_key(controller: Controller) -> bytes:
    """The controller's pseudonymisation key: derived from ``PSEUDONYM_KEY`` (set it, and keep
    it secret and unchanged: the same value then gets the same pseudonym in every system)."""
    return hmac.new(
        settings.PSEUDONYM_KEY.encode(), f"pseudonym:{controller.slug}".encode(), hashlib.sha256
    ).digest()


def recipient_language(controller: Controller) -> str:
    """Recipients are written to in the controller's own language (its statement's)."""
    return "nl" if controller.country in ("NL", "BE") else "en"


# --- Approval.


def approve(case: Case, plan: Plan, *, actor: Actor, at: dt.datetime) -> list[Change]:
    """Mark the plan approved and create its changes and notices; call inside the approving
    step's transaction (the case's row is locked)."""
    plan.status = PlanStatus.APPROVED
    plan.approved_by = actor.user
    plan.approved_at = at
    plan.save(update_fields=["status", "approved_by", "approved_at"])
    start_at = at
    if plan.purpose == LIFT:
        start_at = at + dt.timedelta(days=settings.RESTRICTION_LIFT_NOTICE_DAYS)
    systems = {s.name: s for s in case.controller.systems.all()}
    changes = []
    for entry in plan.body["systems"]:
        if entry.get("tables") is not None and all(t["op"] in UNWRITTEN for t in entry["tables"]):
            continue  # nothing changes there (kept rows without a way to mark them)
        if entry.get("done_under"):
            continue  # done under the plan this one replaced: never asked twice
        manual = entry["kind"] == SystemKind.MANUAL
        changes.append(
            Change.objects.create(
                plan=plan,
                case=case,
                system=systems.get(entry["system"]),
                system_name=entry["system"],
                system_title=entry["title"],
                kind=entry["kind"],
                status=ChangeStatus.MANUAL if manual else ChangeStatus.PENDING,
                next_attempt_at=None if manual else start_at,
            )
        )
    for entry in plan.body.get("notices", ()):
        # Each waits until the changes are settled: only then is it known whether anything
        # it received was changed (``settle``), an exception declared for it included.
        Notice.objects.create(
            case=case,
            plan=plan,
            recipient=entry["recipient"],
            kind=entry.get("kind", ""),
            channel=entry["channel"],
            address=entry.get("address", ""),
            system_name=entry.get("system", ""),
            status=NoticeStatus.PENDING,
            exception=entry.get("exception", ""),
            note=entry.get("note", ""),
        )
    for change in changes:
        if change.status == ChangeStatus.MANUAL:
            _ask_owner(case, plan, change, start_at, at)
        elif plan.purpose != LIFT:
            CHANGES.enqueue_on_commit(change.pk)
    if not changes:
        settle(plan.pk, now=at)
    return changes


def _ask_owner(case: Case, plan: Plan, change: Change, when: dt.datetime, now: dt.datetime) -> None:
    entry = change.entry
    for address in jobs.owner_or_officers(change):
        queue_mail(
            case,
            "manual_change",
            to=address,
            at=now,
            language=recipient_language(case.controller),
            system=change.system_title,
            purpose=plan.purpose,
            task=entry.get("task", ""),
            keep_ground=entry.get("keep_ground", ""),
            keep_until=entry.get("keep_until") or "",
            when=when.date().isoformat(),
            customer_number=case.customer_number,
            corrections=[
                f"{c.get('label', c['column'])}: {c['value']}"
                for c in plan.body.get("corrections", ())
            ],
        )


# --- Running: the skeleton (``jobs.JobKind``) with what a change does at each kind of system.


class Changes(jobs.JobKind):
    """A change at one system, as the approved plan says; done, it settles the plan."""

    model = Change
    task_name = "fulfilment.execute"
    sweep_name = "fulfilment.sweep_executions"
    noun = "change"
    verb = "changed"
    related = ("case__controller", "system", "plan")
    asked = "system_asked_to_change"
    failed = "change_failed"
    failed_mail = "change_failed"
    tell_owner = False
    retried = "change_retried"
    skipped = "change_skipped"
    retryable = (ChangeStatus.FAILED,)
    not_retryable = gettext_lazy("Only a failed change can be tried again.")

    def check(self, job: Change) -> None:
        allowed = State.COMPLETED if job.plan.purpose == LIFT else State.IN_PROGRESS
        if job.case.state != allowed:
            # Withdrawn or refused after the approval (or a lifting for a case reopened):
            # what the plan was for no longer stands.
            raise Outdated(
                f"the request is {job.case.get_state_display()} now: nothing was changed"
            )
        if job.system is None:
            raise Outdated("the system is no longer declared in the controller's file")
        if spec_hash(job.system) != job.entry["spec_sha256"]:
            raise Outdated(
                "the system's declaration changed since the plan was approved: make the plan "
                "again and approve it"
            )

    def by_sql(self, job: Change, connector: SqlConnector, now: Now) -> None:
        _change_sql(job, connector, now)

    def request(self, job: Change) -> dict[str, Any]:
        return {
            "kind": "restriction_lift" if job.plan.purpose == LIFT else job.plan.purpose,
            "callback_url": "",
            # A rectification carries the corrected values of this processor's fields.
            "corrections": [
                {"table": c["table"], "column": c["column"], "value": c["value"]}
                for c in job.plan.body.get("corrections", ())
                if c["system"] == job.system_name
            ],
        }

    def completed(self, job: Change, http: HttpConnector, answer: Answer, now: Now) -> None:
        Change.objects.filter(pk=job.pk).update(reported=_words(answer))
        finish(job.pk, counts={}, files=0, warnings=[], extra={}, now=now)

    def officer_check(self, job: Change) -> None:
        if job.settled:
            raise ValidationError(_("This change is settled already."))

    def skip_check(self, job: Change, now: dt.datetime) -> None:
        """Not while a worker is on it (its change may be half-way): wait, or let it fail."""
        busy = job.status in (ChangeStatus.RUNNING, ChangeStatus.REMOTE) or (
            job.lease_until and job.lease_until > now
        )
        if busy:
            raise ValidationError(
                _("The change is running in the system now: wait until it is done or fails.")
            )

    def skip(
        self, job: Change, *, actor: Actor, reason: str, now: dt.datetime | None = None
    ) -> None:
        """Go ahead without this system; the reason goes into the record and the letter, and
        the plan is settled if it was the last (in the same transaction)."""
        now = now or timezone.now()
        with transaction.atomic():
            super().skip(job, actor=actor, reason=reason, now=now)
            settle(job.plan_id, now=now)


CHANGES = Changes()
# What the tasks, the demo and the pages call (``run(change_id, now=None)``).
run, sweep, retry, skip = CHANGES.run, CHANGES.sweep, CHANGES.retry, CHANGES.skip


def _change_sql(job: Change, connector: SqlConnector, now: dt.datetime | None) -> None:
    """Apply the plan's entry for this system in one transaction there, remove the files the
    changed rows named, and verify it in a new session; done, with the plan's counts."""
    case, spec, entry = job.case, connector.spec, job.entry
    identities = identities_for(case)
    # A table restricted through its parent is in it too: counted (and held to the plan's
    # count), never written.
    changes = {t["table"]: t for t in entry["tables"] if t["op"] not in ("none", "keep")}
    # What the change will remove and replace, kept first (a second run reads none of it).
    seen = sqlchange.preview(spec, identities, changes)
    files = sorted(set(job.files) | set(seen.files))
    before = job.before or seen.before
    # Keys an earlier try, or a change under a plan this one replaced, recorded: that change
    # may have unlinked the rows already, so this one finds none of them.
    earlier = (
        Change.objects.filter(
            case=case, system_name=job.system_name, plan__purpose=job.plan.purpose
        )
        .exclude(pk=job.pk)  # its own keys come first, from ``job.kept``
        .values_list("kept", flat=True)
    )
    kept = _kept_keys(entry, seen.keys, [job.kept, *earlier])
    # The rows whose processing had stopped already (an objection, a withdrawal), read on the
    # first try, before anything is written: a later try finds them stopped by this change.
    # Read now, not taken from the dry run: the subject may have opted out since the plan.
    already = job.already
    if already is None:
        already = sqlchange.already(spec, identities, changes)
    if files != job.files or before != job.before or kept != job.kept or already != job.already:
        Change.objects.filter(pk=job.pk).update(
            files=files, before=before, kept=kept, already=already
        )
        job.kept, job.already = kept, already
    try:
        applied = sqlchange.apply(
            spec, identities, changes, now=now or timezone.now(), key=pseudonym_key(case.controller)
        )
    except sqlchange.CountChanged as blocked:
        # Retrying cannot help (the rows stay): the record says what was found, and the officer
        # makes the plan again (it replaces this one).
        note(
            case,
            actor=Actor.system(),
            action="change_blocked",
            at=now or timezone.now(),
            data={
                "system": job.system_title,
                "plan": job.plan.sha256,
                "found_now": {name: found for name, (found, _p) in blocked.tables.items()},
                "planned": {name: planned for name, (_f, planned) in blocked.tables.items()},
            },
        )
        raise Outdated(str(blocked)) from None
    root = connector.files()
    files = sorted(set(files) | set(applied.files))
    kept = sqlchange.still_named(spec, files) if files else set()
    _removed, warnings = sqlchange.remove_files(root, [f for f in files if f not in kept])
    if kept:
        warnings.append(_("%(n)d file(s) kept: other records still name them") % {"n": len(kept)})
    problems = sqlchange.verify(spec, identities, changes, applied)
    if left := sqlchange.files_left(root, [f for f in files if f not in kept]):
        problems.append(_("%(n)d file(s) are still there") % {"n": left})
    if problems:
        raise ConnectorError(_("verification failed: %(list)s") % {"list": "; ".join(problems)})
    # The plan's counts, verified: a second run (which changes nothing more) says the same.
    # They are the subject's rows the change covered; of an objection's or a withdrawal's,
    # those stopped already are kept apart (``job.already``), and ``evidence`` and the letter
    # count them out (``completion.changed_rows``).
    counts = {name: change.get("rows", 0) for name, change in changes.items()}
    finish(
        job.pk,
        counts=counts,
        files=len([f for f in files if f not in kept]),
        warnings=warnings,
        extra={"before_sha256": before} if before else {},
        now=now,
    )


def _key(value: Any) -> int | str:
    """A row's key as the record keeps it (JSON): a whole number as it is, anything else as
    its text (the search turns it back into the column's type)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _kept_keys(
    entry: dict[str, Any], found: dict[str, list[Any]], recorded: list[dict[str, list[Any]]]
) -> dict[str, list[Any]]:
    """The keys of the rows an erasure keeps while cutting their link to the subject (the plan
    says "findable"), by table: what a later access request of the subject searches by. Added
    to what was ``recorded`` before (a try after the commit finds none of them any more)."""
    kept: dict[str, list[Any]] = {}
    for table in entry.get("tables", ()):
        if table.get("after") != "findable":
            continue  # deleted by this plan, or still linked: nothing to record
        name = table["table"]
        # Each key once, in the order first recorded (a dict keeps it, in linear time).
        keys = dict.fromkeys(k for each in recorded for k in each.get(name, ()))
        keys.update(dict.fromkeys(map(_key, found.get(name, ()))))
        if keys:
            kept[name] = list(keys)
    return kept


def _words(answer: dict[str, Any]) -> dict[str, str]:
    """What a processor answered, as the record keeps it: its plain fields, each cut short
    (an answer is the processor's text: bounded like any other)."""
    return {
        str(key)[:50]: str(value)[:300]
        for key, value in list(answer.items())[:20]
        if isinstance(value, str | int | float | bool)
    }


def finish(
    change_id: int,
    *,
    counts: dict[str, int],
    files: int,
    warnings: list[str],
    extra: dict[str, Any],
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record a change as done (its event says how that was established: ``evidence``),
    then settle the plan if it was the last."""
    now = now or timezone.now()
    with transaction.atomic():
        job = (
            Change.objects.select_for_update(of=("self",))
            .select_related("case", "plan")
            .filter(pk=change_id)
            .first()
        )
        if job is None or job.status == ChangeStatus.DONE:
            return
        # Skipped or cancelled while this worker was already changing the system: the change
        # happened all the same, and the record says so.
        late = job.settled
        job.status = ChangeStatus.DONE
        job.counts = counts
        job.files_deleted = files
        job.warnings = warnings
        job.error = ""
        job.finished_at = now
        job.lease_until = job.next_attempt_at = None
        job.save()
        note(
            job.case,
            actor=actor or Actor.system(),
            action="system_changed",
            at=now,
            data={
                **evidence(job),
                **({"warnings": warnings} if warnings else {}),
                **({"after_skip": True} if late else {}),
                **extra,
            },
        )
        settle(job.plan_id, now=now)


def evidence(change: Change) -> dict[str, Any]:
    """What the record says a done change was, by kind of system, and only what was
    established: an SQL system's changes by table, searched again (``_change_sql`` finishes only
    after ``verify``); a manual task as the officer recorded the owner's answer (who, when, and
    for data kept, under which ground until when); a processor's report of completion with its
    answer (nothing is counted there). The ``system_changed`` event carries it, and the panel
    and the case report read a done change through it (``events.describe_change``)."""
    data: dict[str, Any] = {
        "system": change.system_title,
        "system_kind": change.kind,
        "purpose": change.plan.purpose,
        "plan": change.plan.sha256,
    }
    entry = change.entry
    if change.kind == SystemKind.SQL:
        # In the plan's order of tables (the counts' keys come back from the database in
        # its own order).
        order = [t["table"] for t in entry.get("tables", ())]
        ops = {t["table"]: t["op"] for t in entry.get("tables", ())}
        # The rows each table had changed: an objection's or a withdrawal's rows that had
        # stopped already are not among them (``stopped_already`` below says them apart).
        changed = completion.changed_rows(change)
        tables = sorted(changed, key=lambda t: order.index(t) if t in order else 999)
        data["done"] = [
            {"table": table, "op": ops.get(table, ""), "rows": changed[table]} for table in tables
        ]
        data["files"] = change.files_deleted
        data["verified"] = True
        # What stays, as the plan counted it, and why and until when.
        kept = [
            {
                "table": t["table"],
                "rows": t.get("rows", 0),
                "ground": t["keep_ground"],
                "until": t.get("keep_until") or "",
            }
            for t in entry.get("tables", ())
            if t.get("keep_ground") and t.get("rows")
        ]
        if kept:
            data["kept"] = kept
        if change.kept:
            # Counts only: the keys themselves stay with the change.
            data["findable"] = {table: len(keys) for table, keys in change.kept.items()}
        if change.already:
            # An objection's or a withdrawal's rows left as they were: stopped before it ran.
            data["stopped_already"] = {
                table: int(said.get("rows", 0)) for table, said in change.already.items()
            }
    elif change.kind == SystemKind.MANUAL:
        data["task"] = entry.get("task", "")
        data["found"] = change.found
        data["confirmed_by"] = change.answered_by.get_username() if change.answered_by else ""
        data["confirmed_at"] = change.answered_at.isoformat() if change.answered_at else ""
        data["confirmed"] = change.answer_note
        if entry.get("keep_ground"):
            data["keep_ground"] = entry["keep_ground"]
            data["keep_until"] = entry.get("keep_until") or ""
    else:
        data["request"] = change.remote_id
        data["reported"] = "completed"
        data["reported_at"] = change.finished_at.isoformat() if change.finished_at else ""
        data["answer"] = change.reported
    return data


def settle(plan_id: int, now: dt.datetime | None = None) -> None:
    """Once every change of the plan is settled: tell the recipients (Art. 19), once, of
    what was done to the subject's data, under this plan or one it replaced. Each recipient:

    - a processor whose own request was made (its HTTP system asked) is told by it;
    - one whose systems held none of the subject's data: none was disclosed to it;
    - one whose systems held the subject's data, none of it changed: nothing to tell;
    - under a declared exception of Art. 19: not told, the controller's reason quoted. Each
      recipient has one reason: nothing to tell comes first (the exception matters only
      where there is something to tell), and the exception holds before the two below;
    - one that may have to be told but the record cannot say (a processor reported completion
      without saying what it held), or that receives data only on occasion, or with no way
      to tell it declared: it waits for the officer (``decide``), and "prepare the response"
      with it;
    - else it is mailed, in the controller's language, with the privacy address to answer
      to, saying what was done to the data of the systems it receives (an erasure's data kept
      under a ground: kept, restricted, until when).
    """
    plan = Plan.objects.select_related("case__controller").get(pk=plan_id)
    if plan.changes.exclude(status__in=(ChangeStatus.DONE, ChangeStatus.SKIPPED)).exists():
        return
    case = plan.case
    if plan.purpose not in (*NOTIFIED, LIFT):  # a lifting: those told of the restriction
        return
    pending = list(plan.notices.filter(status=NoticeStatus.PENDING))
    if not pending and plan.notices.exists():
        return  # told already (a change recorded after a skip settles the plan again)
    # What was done under this plan and under any plan it replaced, and what the approved
    # plans counted: read once, for every recipient.
    changes = completion.done_changes(case, plan.purpose)
    approved = completion.approved_bodies(case, plan.purpose)
    done = {e.system_name for e in changes}
    entries = {entry["recipient"]: entry for entry in plan.body.get("notices", ())}
    anything = completion.changed(case, plan.purpose, changes)
    said: dict[str, Any] | None = None  # what a mailed notice says: once, if one is mailed
    now = now or timezone.now()
    for notice in pending:
        entry = entries.get(notice.recipient, {})
        if notice.channel == "system" and notice.system_name in done:
            # The processor's own request told it (and it reported it completed), whether or
            # not it held anything of the subject's.
            notice.status = NoticeStatus.SENT
            notice.sent_at = now
            continue
        found = completion.concerned(
            case,
            plan.purpose,
            entry.get("receives") or None,
            done=changes,
            approved=approved,
        )
        if found in (completion.NONE, completion.UNCHANGED):
            # Nothing to tell it: that is the one reason it is not told, and a declared
            # exception of Art. 19 (which only matters where there is something to tell) is
            # not recorded beside it as a second one.
            notice.exception, notice.note = "", ""
        if found == completion.NONE:
            notice.status, notice.reason = NoticeStatus.NOT_DISCLOSED, completion.RECEIVES_NONE
        elif found == completion.UNCHANGED:
            # Every change was skipped, found nothing, or kept what it found (there, or
            # anywhere): there is nothing to tell, and the record and the letter say so.
            notice.status = NoticeStatus.UNREACHABLE
            notice.reason = completion.NOTHING_OF_THEIRS if anything else completion.NOTHING_CHANGED
        elif notice.exception:
            # Declared in the systems file: the controller's reason is the notice's note. It
            # holds whatever a silent processor held, and whatever went to it on occasion.
            notice.status = NoticeStatus.UNREACHABLE
        elif found == completion.SILENT:
            notice.status, notice.reason = NoticeStatus.UNRESOLVED, completion.PROCESSOR_SILENT
        elif entry.get("occasional"):
            notice.status, notice.reason = NoticeStatus.UNRESOLVED, completion.OCCASIONAL
        elif notice.address:
            said = said if said is not None else _said(case, plan, changes)
            _mail(case, plan, notice, said, entry.get("receives") or None, now=now)
        else:
            notice.status = NoticeStatus.UNRESOLVED
            notice.reason = (
                completion.NOT_ASKED if notice.channel == "system" else (completion.UNDECLARED)
            )
    Notice.objects.bulk_update(
        pending, ["status", "reason", "sent_at", "mail", "exception", "note"]
    )
    note(
        case,
        actor=Actor.system(),
        action="recipients_notified",
        at=now,
        data={
            "notices": [
                {
                    "recipient": n.recipient,
                    "status": n.status,
                    "reason": n.reason,
                    **({"exception": n.exception, "note": n.note} if n.exception else {}),
                }
                for n in plan.notices.all()
            ]
        },
    )


def _said(case: Case, plan: Plan, done: list[Change] | None = None) -> dict[str, Any]:
    """What the notices of this plan can say was done, per system (``done``:
    ``completion.done_changes``, read already): where records were deleted, an erasure's
    outcome (erased, or kept under a ground), the processing an objection or a withdrawal
    stopped, and the corrections made. Read once for every recipient; each notice says what
    concerns the systems whose data it receives (``_for``)."""
    done = completion.done_changes(case, plan.purpose) if done is None else done
    specs = (
        {s.name: spec_of(s.spec) for s in case.controller.systems.all()}
        if plan.purpose in (Right.OBJECTION, Right.WITHDRAW_CONSENT, Right.RECTIFICATION)
        else {}
    )
    return {
        "deleted": completion.deleted_in(plan.purpose, done),
        "corrections": _corrected(plan, done, specs),
        "outcome": _erasure_outcome(plan, done) if plan.purpose == Right.ERASURE else [],
        "processing": _stopped_processing(plan.purpose, done, specs),
    }


def _for(said: dict[str, Any], receives: list[str] | None) -> dict[str, Any]:
    """What a notice to a recipient of the data of ``receives`` (None: of every system) says:
    only what concerns those systems."""

    def mine(system: str) -> bool:
        return receives is None or system in receives

    processing = list(
        dict.fromkeys(p for name, found in said["processing"].items() if mine(name) for p in found)
    )
    outcome = [o for o in said["outcome"] if mine(o["system"])]
    return {
        "deleted": any(mine(name) for name in said["deleted"]),
        "corrections": [line for name, line in said["corrections"] if mine(name)],
        # An erasure that kept some of it: per system, what was erased and what is kept under
        # which ground until when (told only where both are there: else "erased" is the whole
        # truth, and a recipient of kept data alone has nothing erased to be told of).
        "outcome": outcome if any(o["kept"] for o in outcome) else [],
        # The processing stopped, in the controller's words, quoted as such.
        "stopped": ", ".join(f"“{p}”" for p in processing),
    }


def _erasure_outcome(plan: Plan, done: list[Change]) -> list[dict[str, Any]]:
    """Per system that held the subject's data, in the plan's order, what an erasure did:
    ``erased`` (the labels of the tables erased, ``[""]`` for the system as a whole) and
    ``kept`` (each ``{"label", "ground", "until"}``: kept under that ground, restricted, until
    that date). From every done change of the request (under this plan or one it replaced)."""
    found: dict[str, dict[str, Any]] = {}

    def system(name: str, title: str) -> dict[str, Any]:
        return found.setdefault(name, {"system": name, "title": title, "erased": [], "kept": []})

    def add(items: list[Any], item: Any) -> None:
        if item not in items:
            items.append(item)

    for change in done:
        entry = change.entry
        here = system(change.system_name, change.system_title)
        if change.kind == SystemKind.SQL:
            changed = completion.changed_rows(change)
            for table in entry.get("tables", ()):
                rows = changed.get(table["table"], 0) or (
                    table.get("rows", 0) if table["op"] == "keep" else 0
                )
                if not rows:
                    continue
                if table.get("keep_ground"):
                    add(
                        here["kept"],
                        {
                            "label": table["label"],
                            "ground": table["keep_ground"],
                            "until": table.get("keep_until") or "",
                        },
                    )
                elif table["op"] in ("delete", "update"):
                    add(here["erased"], table["label"])
        elif change.kind == SystemKind.MANUAL:
            if not change.found:
                continue
            if entry.get("task") == "keep":
                add(
                    here["kept"],
                    {
                        "label": "",
                        "ground": entry.get("keep_ground", ""),
                        "until": entry.get("keep_until") or "",
                    },
                )
            else:
                add(here["erased"], "")
        elif completion.reported_records(change) != 0:
            add(here["erased"], "")  # the processor erased what it held
    # A system the plan keeps as it is runs no change: what it keeps is the plan's count.
    for entry in plan.body["systems"]:
        for table in entry.get("tables", ()):
            if table["op"] == "keep" and table.get("rows") and table.get("keep_ground"):
                add(
                    system(entry["system"], entry["title"])["kept"],
                    {
                        "label": table["label"],
                        "ground": table["keep_ground"],
                        "until": table.get("keep_until") or "",
                    },
                )
    order = [entry["system"] for entry in plan.body["systems"]]
    return sorted(
        (o for o in found.values() if o["erased"] or o["kept"]),
        key=lambda o: order.index(o["system"]) if o["system"] in order else len(order),
    )


def _stopped_processing(
    purpose: str, done: list[Change], specs: dict[str, SystemSpec]
) -> dict[str, list[str]]:
    """Per system, the processing an objection or a withdrawal of consent stopped there, as
    the systems file declares it (``processing``): an SQL table whose rows it changed now (not
    those stopped already), or a processor asked to stop it. A manual owner's task names none."""
    if purpose not in (Right.OBJECTION, Right.WITHDRAW_CONSENT):
        return {}
    found: dict[str, list[str]] = {}
    for change in done:
        names = found.setdefault(change.system_name, [])
        if change.kind == SystemKind.SQL:
            changed = completion.changed_rows(change)
            for table in change.entry.get("tables", ()):
                if changed.get(table["table"]) and table.get("processing"):
                    names.append(table["processing"])
        elif change.kind == SystemKind.HTTP and (spec := specs.get(change.system_name)):
            for table in spec.tables:
                action = table.objection if purpose == Right.OBJECTION else table.withdrawal
                if action is not None and action.processing:
                    names.append(action.processing)
    return found


def _mail(
    case: Case,
    plan: Plan,
    notice: Notice,
    said: dict[str, Any],
    receives: list[str] | None = None,
    *,
    now: dt.datetime,
) -> None:
    """Mail the notice to ``notice.address``: in the controller's language, instructing a
    processor (Art. 28(3)) or asking an independent controller, saying what was done to the
    data of the systems it receives (``said``: ``_said``; ``receives`` None: every system),
    with the privacy address to answer to."""
    told = _for(said, receives)
    notice.mail = queue_mail(
        case,
        "recipient_notice",
        to=notice.address,
        at=now,
        language=recipient_language(case.controller),
        reply_to_controller=True,
        recipient=notice.recipient,
        processor=notice.kind == RecipientKind.PROCESSOR,
        purpose=plan.purpose,
        deleted=told["deleted"],
        corrections=told["corrections"],
        outcome=told["outcome"],
        stopped=told["stopped"],
        subject_name=case.name,
        subject_email=case.email,
    )
    # Told once the mail has left (``mail_left``), not when it is queued.
    notice.status = NoticeStatus.MAILING


def _receives(plan: Plan, recipient: str) -> list[str] | None:
    """The systems whose data a recipient of the plan receives (None: every system)."""
    entry = next((e for e in plan.body.get("notices", ()) if e["recipient"] == recipient), {})
    return entry.get("receives") or None


def _corrected(
    plan: Plan, done: list[Change], specs: dict[str, SystemSpec]
) -> list[tuple[str, str]]:
    """The corrections made (in a system whose change was done), as (system, "field: new
    value")."""
    changed = {e.system_name for e in done if completion.effect(e)}
    lines = []
    for c in plan.body.get("corrections", ()):
        if c["system"] not in changed:
            continue
        label = c["column"]
        spec = specs.get(c["system"])
        table = next((t for t in spec.tables if t.name == c["table"]), None) if spec else None
        if table is not None:
            label = next((col.label for col in table.columns if col.name == c["column"]), label)
        lines.append((c["system"], f"{label}: {c['value']}"))
    return lines


# --- What officers do.


def confirm_manual(
    change: Change,
    *,
    actor: Actor,
    note_text: str,
    found: bool,
    now: dt.datetime | None = None,
) -> None:
    """The owner of a manual system answered the task: the officer records it, and what the
    owner said (``found``: the subject's data were there and the owner did as asked; or none
    was there, which changed nothing). Nobody counted: the record says who confirmed, when,
    and how, never that it was verified."""
    now = now or timezone.now()
    with transaction.atomic():
        change = CHANGES.for_officer(change, actor)
        if change.status != ChangeStatus.MANUAL:
            raise ValidationError(_("Only a manual task is confirmed by hand."))
        if not note_text.strip():
            raise ValidationError(_("Say who confirmed it, and how."))
        Change.objects.filter(pk=change.pk).update(
            answered_by=actor.user,
            answered_at=now,
            answer_note=note_text,
            found=found,
        )
        finish(change.pk, counts={}, files=0, warnings=[], extra={}, actor=actor, now=now)


def cancel(case: Case, at: dt.datetime) -> None:
    """The request ended (withdrawn, refused) before its changes ran: what has not started is
    not done (call inside the ending step's transaction). One a worker is on runs to its end and
    is recorded as it happened."""
    waiting = case.changes.select_for_update(of=("self",)).filter(
        status__in=(ChangeStatus.PENDING, ChangeStatus.MANUAL, ChangeStatus.FAILED),
        plan__purpose=case.right,
    )
    for change in waiting:
        if change.lease_until and change.lease_until > at:
            continue
        Change.objects.filter(pk=change.pk).update(
            status=ChangeStatus.SKIPPED,
            answer_note="the request ended before this change ran",
            next_attempt_at=None,
        )
        note(
            case,
            actor=Actor.system(),
            action="change_cancelled",
            at=at,
            data={"system": change.system_title, "state": case.state},
        )


def record_answer(
    notice: Notice, *, actor: Actor, answer: str, now: dt.datetime | None = None
) -> None:
    """A recipient's answer to its notice (it confirmed, or refused), kept on the case. Only a
    notice that was sent can be answered."""
    case = notice.case
    if actor.kind != "officer" or not is_officer(actor.user, case.controller):
        raise PermissionDenied("only the controller's officers may do this")
    if notice.status not in (NoticeStatus.SENT, NoticeStatus.ANSWERED):
        raise ValidationError(_("Only a notice that was sent can be answered."))
    if not answer.strip():
        raise ValidationError(_("Write the recipient's answer."))
    now = now or timezone.now()
    with transaction.atomic():
        Notice.objects.filter(pk=notice.pk).update(
            status=NoticeStatus.ANSWERED, answer=answer, answered_at=now
        )
        note(
            case,
            actor=actor,
            action="recipient_answered",
            at=now,
            data={"recipient": notice.recipient, "answer": answer},
        )


# How an officer settles a recipient that waits for them (``NoticeStatus.UNRESOLVED``).
TELL_BY_MAIL = "mail"
TOLD_OTHERWISE = "other"
NOT_DISCLOSED = "not_disclosed"
DECISIONS = (TELL_BY_MAIL, TOLD_OTHERWISE, *NoticeException.values, NOT_DISCLOSED)


def decide(
    notice: Notice,
    *,
    actor: Actor,
    decision: str,
    address: str = "",
    note_text: str = "",
    now: dt.datetime | None = None,
) -> None:
    """The officer settles a recipient that waits for them: gives an address to tell it by
    (the notice is mailed there, its delivery shown), records that it was told another way
    (how and when), records an exception of Art. 19 (impossible, disproportionate effort) with
    its reason, or that none of the subject's data went to it (how that is known). An event
    in the chain each, with who and when; the words are the officer's, quoted as such."""
    case = notice.case
    if actor.kind != "officer" or not is_officer(actor.user, case.controller):
        raise PermissionDenied("only the controller's officers may do this")
    if decision not in DECISIONS:
        raise ValidationError(_("Choose what to do about this recipient."))
    address, note_text = address.strip(), note_text.strip()
    if decision == TELL_BY_MAIL:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(_("Give the address to tell the recipient by.")) from None
        if has_control_characters(address):
            raise ValidationError(_("Give the address to tell the recipient by."))
    elif not note_text:
        raise ValidationError(
            {
                TOLD_OTHERWISE: _("Say how and when the recipient was told."),
                NOT_DISCLOSED: _("Say how you know that none of the subject's data went to it."),
            }.get(decision, _("Give the reason, as the subject will read it quoted."))
        )
    now = now or timezone.now()
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("case__controller", "plan")
            .get(pk=notice.pk)
        )
        if notice.status != NoticeStatus.UNRESOLVED:
            raise ValidationError(_("This recipient is settled already."))
        notice.decided_by, notice.decided_at = actor.user, now
        notice.reason = ""
        if decision == TELL_BY_MAIL:
            notice.channel, notice.address, notice.note = "email", address, ""
            _mail(
                notice.case,
                notice.plan,
                notice,
                _said(notice.case, notice.plan),
                _receives(notice.plan, notice.recipient),
                now=now,
            )
        elif decision == TOLD_OTHERWISE:
            notice.channel, notice.note = "other", note_text
            notice.status, notice.sent_at = NoticeStatus.SENT, now
        elif decision == NOT_DISCLOSED:
            notice.status, notice.note = NoticeStatus.NOT_DISCLOSED, note_text
        else:
            notice.status, notice.exception, notice.note = (
                NoticeStatus.UNREACHABLE,
                decision,
                note_text,
            )
        notice.save()
        note(
            notice.case,
            actor=actor,
            action="recipient_decided",
            at=now,
            data={
                "recipient": notice.recipient,
                "decision": decision,
                **({"to": address} if decision == TELL_BY_MAIL else {"note": note_text}),
            },
        )


# Why a recipient mailed a notice waits for the officer again (kept in English in the record,
# read in the reader's language).
NOTICE_UNDELIVERED = gettext_noop(
    "its notice did not arrive (the mail bounced, was rejected or failed): give another address, "
    "or record how it was told"
)


def mail_left(sender: Any, *, mail: Any, outcome: str, **kwargs: Any) -> None:
    """A notice's mail left (the recipient is told, then) or did not arrive (it waits for the
    officer again, and the officers are mailed: after the response nothing else would show
    it): ``cases.extensions.mail_fate``, in the transaction that records it. Every mail the
    product sends passes here: any other kind is left at once, without a query."""
    if mail.kind != "recipient_notice":
        return
    notices = Notice.objects.select_for_update(of=("self",)).filter(mail_id=mail.pk)
    if outcome == "sent":
        notices = notices.filter(status=NoticeStatus.MAILING)
    else:
        notices = notices.filter(status__in=(NoticeStatus.MAILING, NoticeStatus.SENT))
    for notice in notices.select_related("case__controller", "case__assigned_to"):
        case = notice.case
        if outcome == "sent":
            notice.status, notice.sent_at = NoticeStatus.SENT, mail.sent_at
            action = "recipient_told"
        else:
            notice.status, notice.reason, notice.sent_at = (
                NoticeStatus.UNRESOLVED,
                NOTICE_UNDELIVERED,
                None,
            )
            action = "notice_undelivered"
        notice.save(update_fields=["status", "reason", "sent_at"])
        note(
            case,
            actor=Actor.system(),
            action=action,
            at=mail.sent_at if outcome == "sent" else timezone.now(),
            data={"recipient": notice.recipient, "to": mail.to},
        )
        if outcome == "sent":
            continue
        for address in reminder_addresses(case.controller, assignee=case.assigned_to):
            queue_mail(
                case,
                "notice_undelivered",
                to=address,
                recipient=notice.recipient,
                address=mail.to,
                outcome=mail.delivery_status or outcome,
                completed=case.state == State.COMPLETED,
            )


def mailing_recipients(plan: Plan) -> list[str]:
    """The recipients of the plan whose notice's mail has not left yet."""
    return list(
        plan.notices.filter(status=NoticeStatus.MAILING).values_list("recipient", flat=True)
    )


def waiting_recipients(plan: Plan) -> list[str]:
    """The recipients of the plan that wait for the officer (``decide``)."""
    return list(
        plan.notices.filter(status=NoticeStatus.UNRESOLVED).values_list("recipient", flat=True)
    )
