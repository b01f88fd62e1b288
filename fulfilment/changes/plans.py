"""The plan of a right that changes data: what it will do in each system, counted by a dry run,
for an officer to review and approve before anything runs.

Erasure (Art. 17), restriction (Art. 18), rectification (Art. 16), objection (Art. 21) and
withdrawal of consent (Art. 7(3)) each do what the controller's systems file declares, table by
table; lifting a restriction is a plan of its own. ``make`` counts the subject's rows in every
SQL system (read-only sessions: a dry run never writes), says what a processor (HTTP) or an
owner (manual) will be asked, and which recipients are told (Art. 19). The plan's body is
hashed; the officer approves that hash (the ``approve_plan`` step, whose event carries it), and
the changes carry out that body and nothing else (``fulfilment.changes.execute``).

A plan is outdated when the systems file changed what a system does, or (rectification) the
corrections changed, since it was made: it is not approved, and the officer makes it again. An
approved plan is replaced by a new plan (a dry run, approved by the same step with its own hash)
while any of its changes is not settled and none is running: its changes that have not run
(waiting, failed, or a manual task not confirmed) are superseded, an event each, and never run;
what was done stays done and in the record. The new body names the plan it ``replaces``, and a
manual or processor system done under an earlier plan is marked ``done_under`` it (its owner
or processor is not asked twice); an SQL system is changed again (what is gone stays gone, the
same values are written again) and searched again.

A table's entry in the body: ``op`` (``delete``; ``update``, ``restrict`` or ``lift``: the
``columns`` changed, each ``{"column", "to": "null" | "pseudonymise" | "value", "value"}``;
``via``: restricted, or lifted, through the flag of its parent (``via``: its table and label),
counted and never written; ``keep``: kept unchanged; ``none``: nothing declared) and ``rows``
counted. Beside it, where it applies: ``unmarked`` (why the rows cannot be marked restricted:
``{"why": "declared", "text"}`` in the file's words, ``"undeclared"``, or ``"parent_erased"``),
``restricted`` (an erasure's update sets the flag too), ``keep_ground`` and ``keep_until`` for
what stays, ``after`` (kept rows whose link to the subject is cut: ``findable`` by their keys,
recorded by the change, or ``anonymous``), and for an objection or a withdrawal ``processing``
(what it stops, in the file's words), ``marketing`` and ``already`` (the rows that had stopped
already, ``{"rows", "since": [days]}``: a column marked ``unless_set`` is written only where
the processing has not stopped).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import unicodedata
from typing import Any

import orjson
from celery import shared_task
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from cases.actors import Actor
from cases.audit import note
from cases.models import Case, State
from controllers.access import is_officer
from controllers.models import Right, System, SystemKind
from controllers.systems import (
    ActionSpec,
    SystemSpec,
    TableSpec,
    after_erasure,
    erased_link,
    spec_of,
)

from ..models import (
    Change,
    ChangeStatus,
    Correction,
    Notice,
    NoticeStatus,
    Plan,
    PlanStatus,
)
from ..systems.connectors import sqlchange
from ..systems.connectors.base import ConnectorError
from ..systems.jobs import identities_for
from .completion import done_changes, effect, reported_records

log = logging.getLogger(__name__)

# The rights whose answer is a change in the systems.
CHANGE_RIGHTS = (
    Right.ERASURE,
    Right.RESTRICTION,
    Right.RECTIFICATION,
    Right.OBJECTION,
    Right.WITHDRAW_CONSENT,
)
# Lifting a restriction (Art. 18(3)): a plan of its own, on a completed restriction case.
LIFT = "lift"
# Recipients are told of what these did to the subject's data: Art. 19 names rectification,
# erasure and restriction; an objection or a withdrawal of consent that deleted or changed
# data is an erasure or a stop of processing the recipients (processors above all, Art. 28(3))
# must carry out as well.
NOTIFIED = CHANGE_RIGHTS
# A table's operations that write nothing to it: nothing declared; kept as it is; restricted
# (or lifted) through its parent's flag ("via": counted, and held to its count, by the change).
UNWRITTEN = ("none", "keep", "via")
# Why a replaced plan's recipients were not told (kept in English, read in the reader's language).
REPLACED = gettext_noop(
    "the plan was replaced before its changes were settled: the newer plan's notices apply"
)


def sha256_of(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


# Keys of a systems file that name and describe, and change nothing a plan does.
_WORDING = frozenset(
    {"title", "description", "owner", "instructions", "label", "category", "processing", "cannot"}
)


def _behaviour(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _behaviour(v) for k, v in value.items() if k not in _WORDING}
    if isinstance(value, list):
        return [_behaviour(v) for v in value]
    return value


def spec_hash(system: System) -> str:
    """What the system's declaration does, as the plan saw it (its wording aside): approval
    refuses a plan made before it changed, and a change refuses to run on a changed one."""
    behaviour = _behaviour(system.spec)
    return hashlib.sha256(orjson.dumps(behaviour, option=orjson.OPT_SORT_KEYS)).hexdigest()


def current(case: Case, purpose: str | None = None) -> Plan | None:
    """The case's latest plan that is not superseded (of ``purpose``, default its right)."""
    return (
        case.plans.filter(purpose=purpose or case.right)
        .exclude(status=PlanStatus.SUPERSEDED)
        .order_by("-pk")
        .first()
    )


# --- What each right does to one table.


def _until(made: dt.datetime, years: int) -> str | None:
    if not years:
        return None
    date = made.date()
    try:
        return date.replace(year=date.year + years).isoformat()
    except ValueError:  # 29 February
        return date.replace(year=date.year + years, day=28).isoformat()


def _flag(table: TableSpec, *, lift: bool = False) -> dict[str, Any]:
    """The change that sets (or, lifting, unsets) a table's own restriction flag."""
    flag = table.flag
    assert flag is not None
    return {"column": flag.column, "to": "value", "value": flag.lifted if lift else flag.value}


def _unmarked(table: TableSpec) -> dict[str, str]:
    """Why a table's rows cannot be marked restricted: the file's own words, or that it
    declares no way."""
    restriction = table.restriction
    if restriction is not None and restriction.cannot:
        return {"why": "declared", "text": restriction.cannot}
    return {"why": "undeclared"}


def _parent(spec: SystemSpec, table: TableSpec) -> TableSpec:
    assert table.reached_from is not None
    return spec.table(table.reached_from.table)


def _restriction(purpose: str, spec: SystemSpec, table: TableSpec) -> dict[str, Any]:
    """What a restriction (or its lifting) does to one table: sets its own flag; counts on its
    parent's (the application treats a restricted parent's rows as restricted: the loader
    accepts that only where an ancestor has a flag); or, where neither is declared, says that
    the rows cannot be marked, and why."""
    lift = purpose == LIFT
    if table.flag is not None:
        return {"op": LIFT if lift else "restrict", "columns": [_flag(table, lift=lift)]}
    if table.restriction is not None and table.restriction.via:
        parent = _parent(spec, table)
        return {"op": "via", "via": {"table": parent.name, "label": parent.label}}
    return {"op": "none"} if lift else {"op": "none", "unmarked": _unmarked(table)}


def _kept_restriction(spec: SystemSpec, table: TableSpec) -> dict[str, Any]:
    """How rows that erasure keeps (or updates) are restricted: by their own flag, set in the
    same change; through their parent's, only while every row on the way up is kept and still
    linked (an erased parent restricts nothing); otherwise they cannot be marked, and why."""
    if table.flag is not None:
        return {"flag": _flag(table)}
    if table.restriction is None or not table.restriction.via:
        return {"unmarked": _unmarked(table)}
    current = table
    while current.flag is None:
        parent = _parent(spec, current)
        if erased_link(current) or parent.erasure == "delete":
            return {"unmarked": {"why": "parent_erased"}}
        current = parent
    parent = _parent(spec, table)
    return {"via": {"table": parent.name, "label": parent.label}}


def _erasure(spec: SystemSpec, table: TableSpec, made: dt.datetime) -> dict[str, Any]:
    """What erasure does to one table: deletes the rows; or keeps them under the declared
    ground, with the declared fields erased (``update``) and, where the system can mark them,
    restricted in the same change (``restricted``), or the reason they cannot be marked
    (``unmarked``)."""
    if table.erasure == "delete":
        return {"op": "delete"}
    kept = _kept_restriction(spec, table)
    entry: dict[str, Any] = {}
    if table.erasure == "update":
        entry["op"] = "update"
        entry["columns"] = [
            {"column": c.name, "label": c.label, "to": c.erasure}
            for c in table.columns
            if c.erasure
        ]
        if "flag" in kept:
            entry["columns"].append({**kept["flag"], "restrict": True})
            entry["restricted"] = True
    elif "flag" in kept:
        entry.update(op="restrict", columns=[kept["flag"]])
    else:
        entry["op"] = "via" if "via" in kept else "keep"
    if "via" in kept:
        entry["via"] = kept["via"]
    if "unmarked" in kept:
        entry["unmarked"] = kept["unmarked"]
    entry["keep_ground"] = table.keep_ground
    entry["keep_until"] = _until(made, table.keep_years)
    after = after_erasure(spec, table)
    # Kept rows are findable by their keys only until their retention ends (the loader asks
    # for keep_years; a system loaded before it did says nothing of finding them, and no key
    # is recorded: searched with no end, a reused key would name another's row).
    if after and (after != "findable" or entry["keep_until"]):
        entry["after"] = after
    return entry


def _action(action: ActionSpec | None) -> dict[str, Any]:
    """What an objection or a withdrawal of consent does to one table. A ``set`` writes only
    where the processing has not stopped already (``unless_set``: a column still empty, or
    without the declared value), so an opt-out of 2024 keeps its date."""
    if action is None:
        return {"op": "none"}
    said = {"marketing": action.marketing, "processing": action.processing}
    if action.action == "delete":
        return {"op": "delete", **said}
    return {
        "op": "update",
        "columns": [
            {"column": action.column, "to": "value", "value": action.value, "unless_set": True}
        ],
        **said,
    }


def table_entry(
    purpose: str,
    spec: SystemSpec,
    table: TableSpec,
    made: dt.datetime,
    corrections: list[Correction] | None = None,
) -> dict[str, Any]:
    """What ``purpose`` does to one table of ``spec`` (without its count)."""
    entry: dict[str, Any] = {"table": table.name, "label": table.label}
    if purpose == Right.ERASURE:
        entry.update(_erasure(spec, table, made))
    elif purpose in (Right.RESTRICTION, LIFT):
        entry.update(_restriction(purpose, spec, table))
    elif purpose == Right.RECTIFICATION:
        mine = [c for c in corrections or () if c.table == table.name]
        entry["op"] = "update" if mine else "none"
        if mine:
            entry["columns"] = [
                {"column": c.column, "to": "value", "value": c.value, "hash_before": True}
                for c in mine
            ]
    elif purpose == Right.OBJECTION:
        entry.update(_action(table.objection))
    elif purpose == Right.WITHDRAW_CONSENT:
        entry.update(_action(table.withdrawal))
    else:  # pragma: no cover - the callers pass only these
        raise ValueError(purpose)
    return entry


def _asks(purpose: str, spec: SystemSpec, corrections: list[Correction]) -> bool:
    """Whether a processor (HTTP system) is asked to act on this purpose: a rectification only
    where its API takes one (rectifiable fields) and the officer approved a correction of it."""
    if purpose in (Right.ERASURE, Right.RESTRICTION, LIFT):
        return True
    if purpose == Right.OBJECTION:
        return any(t.objection for t in spec.tables)
    if purpose == Right.WITHDRAW_CONSENT:
        return any(t.withdrawal for t in spec.tables)
    # A rectification its API does not take reaches it as a notice (Art. 19).
    return any(c.system_name == spec.name for c in corrections)


def system_entry(
    purpose: str,
    system: System,
    identities: dict[str, str],
    made: dt.datetime,
    corrections: list[Correction],
) -> dict[str, Any] | None:
    """One system's part of the plan, with the dry run's counts; None if the purpose does
    nothing there."""
    spec = spec_of(system.spec)
    entry: dict[str, Any] = {
        "system": system.name,
        "title": system.title,
        "kind": system.kind,
        "spec_sha256": spec_hash(system),
    }
    if system.kind == SystemKind.MANUAL:
        # Its owner is asked to do what the right asks, whatever it is (a paper file or a
        # mailing list holds data for every right, direct marketing included).
        entry["task"] = purpose
        if purpose == Right.ERASURE:
            entry["task"] = "keep" if spec.erasure == "keep" else "delete"
            if spec.erasure == "keep":
                entry["keep_ground"] = spec.keep_ground
                entry["keep_until"] = _until(made, spec.keep_years)
        return entry
    corrections = [c for c in corrections if c.system_name == system.name]
    if system.kind == SystemKind.HTTP:
        if not _asks(purpose, spec, corrections):
            return None
        entry["task"] = purpose
        return entry
    tables = [table_entry(purpose, spec, table, made, corrections) for table in spec.tables]
    already: dict[str, dict[str, Any]] = {}
    try:
        # Every table is counted, those the right does nothing to too: the officer (and the
        # letter) see what stays as it is.
        counts = sqlchange.count(spec, identities)
        changes = {t["table"]: t for t in tables if t["op"] not in UNWRITTEN}
        sqlchange.check_values(spec, changes)
        # An objection's or a withdrawal's rows that have stopped already: left as they are.
        already = sqlchange.already(spec, identities, changes)
    except ConnectorError as error:
        entry["error"] = str(error)
        counts = {}
    for table in tables:
        table["rows"] = counts.get(table["table"], 0)
        if table["table"] in already:
            table["already"] = already[table["table"]]
    entry["tables"] = tables
    return entry


def notices(case: Case) -> list[dict[str, Any]]:
    """Who may have to be told (Art. 19): every recipient of the policy, with its kind
    (a processor is instructed, an independent controller asked), how the systems file says it
    is reached, and what it receives. Whether each is told, and of what, is decided once the
    changes are settled (``execute.settle``): only of what was done to the subject's
    data, and only a recipient the data were disclosed to."""
    declared = {entry["recipient"]: entry for entry in case.controller.notify}
    found = []
    for recipient in case.controller.recipients.all():
        how = declared.pop(recipient.name, None) or {}
        found.append(_notice(recipient.name, recipient.kind, how))
    # A [[notify]] entry for a recipient the policy does not (or no longer) name is still told.
    found += [_notice(name, "", how) for name, how in declared.items()]
    return found


def lift_notices(case: Case) -> list[dict[str, Any]]:
    """Who is told of a lifting: the recipients that were told of the restriction, each the
    way it was told then (Art. 19: they restricted the data too, and hear that it ended)."""
    told: dict[str, Notice] = {}
    for notice in case.notices.filter(
        plan__purpose=Right.RESTRICTION, status__in=(NoticeStatus.SENT, NoticeStatus.ANSWERED)
    ).order_by("pk"):
        told[notice.recipient] = notice
    found = []
    for name, notice in told.items():
        entry: dict[str, Any] = {"recipient": name, "kind": notice.kind}
        if notice.channel == "email":
            entry.update(channel="email", address=notice.address)
        else:
            entry.update(channel=notice.channel, system=notice.system_name)
        found.append(entry)
    return found


def _notice(name: str, kind: str, how: dict[str, Any]) -> dict[str, Any]:
    """One recipient's entry in the plan: ``channel`` email (``address``), system (its HTTP
    system's request; ``address`` for what its API does not take) or none (an exception of
    Art. 19 declared, with the controller's ``note``; or no way declared, for the officer to
    give one); ``receives``, ``occasional`` as the file says."""
    entry: dict[str, Any] = {"recipient": name, "kind": kind}
    if how.get("unreachable"):
        entry.update(channel="none", exception=how.get("exception", ""), note=how["unreachable"])
    elif how.get("system"):
        entry.update(channel="system", system=how["system"])
    elif how.get("email"):
        entry["channel"] = "email"
    else:
        entry["channel"] = "none"
    if how.get("email") and not how.get("unreachable"):
        entry["address"] = how["email"]
    if how.get("receives"):
        entry["receives"] = list(how["receives"])
    if how.get("occasional"):
        entry["occasional"] = how["occasional"]
    return entry


def corrections_of(case: Case) -> list[dict[str, str]]:
    """The corrections approved for the case, as a plan's body records them."""
    return [
        {"system": c.system_name, "table": c.table, "column": c.column, "value": c.value}
        for c in case.corrections.all()
    ]


def _sorted(corrections: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return sorted((c["system"], c["table"], c["column"], c["value"]) for c in corrections)


def outdated(case: Case, plan: Plan) -> list[str]:
    """Why the plan no longer says what would be done (empty: it still does): a correction
    added or changed since it was made (it would be left out), or a system whose declaration
    changed what it does."""
    found = []
    if plan.purpose == Right.RECTIFICATION and _sorted(plan.body.get("corrections", [])) != (
        _sorted(corrections_of(case))
    ):
        found.append(_("The corrections changed since this plan was made: make the plan again."))
    if changed := stale(case, plan.body):
        found.append(
            _("The systems file changed since this plan was made (%(systems)s): make it again.")
            % {"systems": ", ".join(changed)}
        )
    return found


def body_for(case: Case, purpose: str, made: dt.datetime) -> dict[str, Any]:
    identities = identities_for(case)
    corrections = list(case.corrections.all()) if purpose == Right.RECTIFICATION else []
    systems = [
        entry
        for system in case.controller.systems.order_by("position")
        if (entry := system_entry(purpose, system, identities, made, corrections)) is not None
    ]
    body: dict[str, Any] = {
        "purpose": purpose,
        "case": case.reference,
        "made_at": made.isoformat(),
        "systems": systems,
        "notices": (
            lift_notices(case) if purpose == LIFT else notices(case) if purpose in NOTIFIED else []
        ),
    }
    if purpose == Right.RECTIFICATION:
        body["corrections"] = corrections_of(case)
    return body


def problems(body: dict[str, Any]) -> list[str]:
    """Why a plan cannot be approved (empty: it can)."""
    found = [f"{s['title']}: {s['error']}" for s in body["systems"] if s.get("error")]
    if body["purpose"] == Right.RECTIFICATION and not body.get("corrections"):
        found.append(_("No correction has been entered."))
    # A plan that changes nothing (the file declares nothing for this right) can be approved:
    # the record then shows that nothing was there to change, and the case goes on.
    return found


def lift_refusal(case: Case, body: dict[str, Any]) -> str:
    """Why a lifting's plan cannot be carried out ("" if it can): it would lift nothing. No
    SQL table holds a row of the subject's to lift (their data erased since, say: the rows an
    erasure keeps stay restricted under it), and no department or processor is known to have
    restricted any of it. A system that could not be counted, or a processor that did not say
    what it held, may hold some: that is not nothing. The subject is never told that a
    restriction will be lifted when the lifting lifts nothing (Art. 18(3) tells them of a
    lifting, not of none)."""
    restricted = done_changes(case, Right.RESTRICTION)
    for entry in body["systems"]:
        if entry.get("error"):
            return ""
        if "tables" in entry:
            if any(t["op"] in (LIFT, "via") and t.get("rows") for t in entry["tables"]):
                return ""
            continue
        for change in restricted:
            if change.system_name != entry["system"]:
                continue
            unknown = change.kind == SystemKind.HTTP and reported_records(change) is None
            if unknown or effect(change):
                return ""
    return _(
        "This lifting would lift nothing: none of the subject's data is restricted in the "
        "systems any more (erased since, or never restricted there). The subject is not told "
        "that a restriction will be lifted."
    )


def stale(case: Case, body: dict[str, Any]) -> list[str]:
    """The systems whose declaration changed (or went) since the plan was made."""
    systems = {s.name: s for s in case.controller.systems.all()}
    return [
        entry["title"]
        for entry in body["systems"]
        if entry["system"] not in systems
        or spec_hash(systems[entry["system"]]) != entry["spec_sha256"]
    ]


def marketing_declared(case: Case) -> bool:
    """Whether any of the controller's systems declares processing for direct marketing."""
    return any(
        table.objection is not None and table.objection.marketing
        for system in case.controller.systems.all()
        for table in spec_of(system.spec).tables
    )


def _check_officer(case: Case, actor: Actor) -> None:
    if actor.kind != "officer" or not is_officer(actor.user, case.controller):
        raise PermissionDenied("only the controller's officers may do this")


def plannable(case: Case, purpose: str) -> bool:
    if purpose == LIFT:
        return case.right == Right.RESTRICTION and case.state == State.COMPLETED
    return case.right == purpose and case.state == State.IN_PROGRESS


def replace_refusal(plan: Plan, now: dt.datetime | None = None) -> str:
    """Why this approved plan cannot be replaced now ("" if it can): once every change is
    settled its notices have gone out and the record is whole; while one runs (a worker on it,
    a processor working) what it does is not yet known."""
    changes = list(plan.changes.all())
    if all(e.settled for e in changes):
        return _("Every change of the approved plan is settled: it is not made again.")
    now = now or timezone.now()
    if any(
        e.status in (ChangeStatus.RUNNING, ChangeStatus.REMOTE)
        or (e.lease_until and e.lease_until > now)
        for e in changes
    ):
        return _(
            "A change of the approved plan is running in a system now: wait until it is done "
            "or fails, then make the plan again."
        )
    return ""


def make(
    case: Case, *, actor: Actor, purpose: str | None = None, now: dt.datetime | None = None
) -> Plan:
    """Count and write down the plan (the dry run); it replaces an unapproved one, or an
    approved one not yet carried out (``replace_refusal``). ``now``: when it is made (a demo
    history sets it back); its keep-until dates count from it."""
    made = now or timezone.now()
    purpose = purpose or case.right
    if actor.kind == "officer":
        _check_officer(case, actor)
    if purpose not in (*CHANGE_RIGHTS, LIFT) or not plannable(case, purpose):
        raise ValidationError(_("No plan can be made for this request now."))
    existing = current(case, purpose)
    approved = existing is not None and existing.status == PlanStatus.APPROVED
    if approved and (why := replace_refusal(existing, made)):
        raise ValidationError(why)
    body = body_for(case, purpose, made)  # the counts: outside any transaction of ours
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if current(locked, purpose) not in (None, existing):
            raise ValidationError(_("Another plan was made meanwhile: reload the page."))
        if existing is not None:
            # Approved meanwhile (an approval locks the case as well): the officer replaces
            # only a plan they saw approved.
            seen = existing.status
            existing.refresh_from_db(fields=["status"])
            if existing.status != seen:
                raise ValidationError(_("The plan was approved meanwhile: reload the page."))
        if existing is not None and existing.status == PlanStatus.APPROVED:
            # Its changes locked: a worker claims one only through its row's lock.
            list(existing.changes.select_for_update(of=("self",)))
            if why := replace_refusal(existing, made):
                raise ValidationError(why)
            _supersede(locked, existing, actor=actor, at=made)
        _carry(locked, purpose, body)
        locked.plans.filter(purpose=purpose, status=PlanStatus.DRAFT).update(
            status=PlanStatus.SUPERSEDED
        )
        plan = Plan.objects.create(
            case=locked, purpose=purpose, body=body, sha256=sha256_of(body), made_at=made
        )
        note(
            locked,
            actor=actor,
            action="plan_made",
            at=made,
            data={
                "plan": plan.sha256,
                "purpose": purpose,
                "changes": summary(body),
                **({"already": already} if (already := already_summary(body)) else {}),
                **({"replaces": body["replaces"]} if "replaces" in body else {}),
            },
        )
    return plan


def _supersede(case: Case, plan: Plan, *, actor: Actor, at: dt.datetime) -> None:
    """Replace an approved plan: what it did stays done; its changes that have not run never
    will (an event each); its notices, never sent, say why."""
    plan.status = PlanStatus.SUPERSEDED
    plan.save(update_fields=["status"])
    for change in plan.changes.exclude(status__in=Change.SETTLED):
        Change.objects.filter(pk=change.pk).update(
            status=ChangeStatus.SUPERSEDED, next_attempt_at=None, lease_until=None
        )
        note(
            case,
            actor=actor,
            action="change_superseded",
            at=at,
            data={
                "system": change.system_title,
                "plan": plan.sha256,
                **({"error": change.error} if change.error else {}),
            },
        )
    plan.notices.filter(status=NoticeStatus.PENDING).update(
        status=NoticeStatus.UNREACHABLE, reason=REPLACED
    )


def _carry(case: Case, purpose: str, body: dict[str, Any]) -> None:
    """Mark in a new plan's body what earlier approved plans of the request did: the plan it
    replaces, and each manual or processor system done under one (not asked again)."""
    approved = case.plans.filter(purpose=purpose, approved_at__isnull=False).order_by("-pk")
    last = approved.first()
    if last is None or last.status != PlanStatus.SUPERSEDED:
        return
    body["replaces"] = last.sha256
    done = {
        e.system_name: e.plan.sha256
        for e in Change.objects.filter(case=case, plan__purpose=purpose, status=ChangeStatus.DONE)
        .exclude(kind=SystemKind.SQL)
        .select_related("plan")
        .order_by("pk")
    }
    for entry in body["systems"]:
        if entry["kind"] != SystemKind.SQL and entry["system"] in done:
            entry["done_under"] = done[entry["system"]]


def stopped_before(table: dict[str, Any]) -> int:
    """Of a table's rows in the plan, those an objection or a withdrawal found stopped already
    (the dry run's ``already``): left as they are, no change of ours."""
    return min(int(table.get("already", {}).get("rows", 0)), int(table.get("rows", 0)))


def to_change(table: dict[str, Any]) -> int:
    """How many of a table's rows the plan changes: the subject's rows it counted, less those
    that had stopped already (the plan, the panel, the record and the report say these apart,
    never as changed)."""
    return int(table.get("rows", 0)) - stopped_before(table)


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """Per system, what the plan does in counts (what the record keeps; never the data): the
    rows it changes (those stopped already apart: ``already_summary``)."""
    out: dict[str, Any] = {}
    for system in body["systems"]:
        if "tables" in system:
            out[system["title"]] = {
                t["table"]: f"{t['op']} {to_change(t)}"
                for t in system["tables"]
                if t["op"] != "none"
            }
        else:
            out[system["title"]] = system.get("task", "")
    return out


def already_summary(body: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per system and table, the rows an objection or a withdrawal found stopped already and
    leaves as they are (none: empty)."""
    out: dict[str, dict[str, int]] = {}
    for system in body["systems"]:
        for table in system.get("tables", ()):
            if n := stopped_before(table):
                out.setdefault(system["title"], {})[table["table"]] = n
    return out


# --- Rectification: the fields an officer approved, one by one.

# The most a corrected value may hold (a name, an address, a phone number).
MAX_VALUE = 500


def add_correction(
    case: Case,
    *,
    actor: Actor,
    system: str,
    table: str,
    column: str,
    value: str,
    now: dt.datetime | None = None,
) -> Correction:
    """Approve one correction: only a column the systems file declares rectifiable (in an SQL
    system, or a processor's whose API takes the rectification), only a value without control
    characters (it is the subject's text: hostile like any other)."""
    _check_officer(case, actor)
    if not plannable(case, Right.RECTIFICATION):
        raise ValidationError(_("Corrections are entered while a rectification is in progress."))
    found = case.controller.systems.filter(name=system).exclude(kind=SystemKind.MANUAL).first()
    spec = spec_of(found.spec) if found else None
    target = next((t for t in spec.tables if t.name == table), None) if spec else None
    declared = next((c for c in target.columns if c.name == column), None) if target else None
    if declared is None or not declared.rectifiable:
        raise ValidationError(_("That field cannot be corrected through this system."))
    value = value.strip()
    if not value or len(value) > MAX_VALUE:
        raise ValidationError(
            _("Give the corrected value (at most %(n)d characters).") % {"n": MAX_VALUE}
        )
    # Control characters, and the invisible ones (bidi overrides, zero widths: category Cf)
    # that would make a name read otherwise than it is stored.
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise ValidationError(_("The value may not contain control characters."))
    now = now or timezone.now()
    with transaction.atomic():
        plan = current(case)
        if plan and plan.status == PlanStatus.APPROVED and (why := replace_refusal(plan, now)):
            # Once it is carried out, a correction could no longer be made.
            raise ValidationError(why)
        correction, _created = Correction.objects.update_or_create(
            case=case,
            system_name=system,
            table=table,
            column=column,
            defaults={"value": value, "by": actor.user, "at": now},
        )
        note(
            case,
            actor=actor,
            action="correction_approved",
            at=now,
            data={"system": found.title, "table": table, "column": column, "value": value},
        )
    return correction


def rectifiable(case: Case) -> list[tuple[str, str, str, str]]:
    """(system, table, column, label) of every field the subject may have corrected: in the
    controller's SQL systems, and at the processors whose API takes a rectification."""
    fields = []
    systems = case.controller.systems.exclude(kind=SystemKind.MANUAL).order_by("position")
    for system in systems:
        spec = spec_of(system.spec)
        fields += [
            (
                system.name,
                table.name,
                column.name,
                f"{system.title} · {table.label} · {column.label}",
            )
            for table in spec.tables
            for column in table.columns
            if column.rectifiable
        ]
    return fields


def plan_when_due(case: Case) -> None:
    """Once identity is settled (the case in progress without a plan), the first plan is made
    by a worker after the step commits. A rectification's waits: its plan is made once the
    officer has entered the corrections."""
    if (
        case.state == State.IN_PROGRESS
        and case.right != Right.RECTIFICATION
        and not case.plans.exists()
    ):
        transaction.on_commit(lambda: plan_soon(case.pk))


def plan_soon(case_id: int) -> None:
    """Make the first plan in a worker (the counts reach the systems); if the broker is down,
    the officer makes it from the case file."""
    try:
        plan_task.delay(case_id)
    except Exception:
        log.warning("broker unavailable; the plan of case %s waits for an officer", case_id)


@shared_task(name="fulfilment.make_plan")
def plan_task(case_id: int) -> None:
    case = Case.objects.select_related("controller").filter(pk=case_id).first()
    if case is None or case.plans.exists() or not plannable(case, case.right):
        return
    with contextlib.suppress(ValidationError):  # made meanwhile, or no longer in progress
        make(case, actor=Actor.system())
