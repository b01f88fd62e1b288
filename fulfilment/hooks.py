"""How fulfilment joins a case's steps (through ``cases.extensions``), and the events it writes.

- Identity settled on an access or portability request (the case enters "in progress"): the
  searches start, in the same transaction.
- A case with no searches (its controller declares no systems) is answered by text, as before.
- "Prepare the response" waits until every search is settled (done, or skipped with a reason),
  then asks for the package to be built; "reopen" discards an unreleased package.
- "Approve and send" (complete) waits for the package, and releases it to the subject.
- Once a case has ended, what the searches copied is deleted (the package keeps what the subject
  gets, until its link expires).
- A right that changes data (erasure, restriction, rectification, objection, withdrawal of
  consent): once identity is settled its plan is made (a dry run; ``fulfilment.plans``);
  "approve the plan" takes only the plan the officer reviewed (its hash), never an outdated
  one (its corrections or its systems' declarations changed since), and starts its
  executions; "prepare the response" waits until each is done (or skipped with a reason) and
  no recipient waits for the officer (Art. 19: no way to tell it declared, data that reach it
  only on occasion, a processor that did not say what it held);
  "approve and send" mails the completion letter. An objection to direct marketing
  cannot be refused on compelling grounds (Art. 21(3)). "Lift the restriction" approves the
  lifting's plan, tells the subject, and lifts it after the notice period (Art. 18(3)).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cases import events
from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail
from cases.models import (
    FINAL_STATES,
    Carries,
    Case,
    Direction,
    Message,
    ObjectionTo,
    RefusalGround,
    State,
)
from cases.models.grounds import OBJECTION_GROUNDS
from controllers.models import Right

from . import completion, execute, letter, plans
from .collect import DATA_RIGHTS, discard_staging, start
from .models import NoticeException, NoticeStatus, PackageStatus, Plan, PlanStatus
from .package import package_of, release, request_build, supersede

log = logging.getLogger(__name__)


def on_checking(
    sender: Any, *, case: Case, step: str, arguments: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    if step == "answer_no_data" and (
        case.collections.exists()
        or case.plans.exists()
        # Where the controller declares systems, they are searched for this right (a data
        # right's searches, a change right's plan): "nothing held" is what they find, never
        # the officer's word before they ran (the letter would say "we searched").
        or (case.right in DATA_RIGHTS + plans.CHANGE_RIGHTS and case.controller.systems.exists())
    ):
        # The searches (or the plan's dry run) say what is held: the answer follows from them,
        # and the letter says so when they found nothing (cases.models.grounds).
        raise ValidationError(
            _(
                "This request is answered from the searches of the systems: prepare the "
                "response; where nothing was found, the answer says so."
            )
        )
    if case.right in plans.CHANGE_RIGHTS:
        _check_change(case, step, arguments or {})
        return
    if case.right not in DATA_RIGHTS:
        return
    # A case without searches (its controller declared no systems when its identity was
    # settled) is answered by text alone, as before fulfilment existed.
    if not case.collections.exists():
        return
    if step == "prepare_response":
        waiting = [c.system_title for c in case.collections.all() if not c.settled]
        if waiting:
            raise ValidationError(
                _(
                    "Not every system has been searched: %(systems)s. Wait for it, try it "
                    "again, answer it by hand, or skip it with a reason."
                )
                % {"systems": ", ".join(waiting)}
            )
        if case.right == Right.ACCESS and (missing := letter.gaps(case)):
            # Silence is never the answer (fulfilment.letter): the letter waits for the officer.
            raise ValidationError(
                _(
                    "The access letter needs items that neither the privacy statement nor the "
                    "registry gives: %(items)s. Supply them (Letter items, in the search panel), "
                    "then prepare the response."
                )
                % {"items": "; ".join(gap.what for gap in missing)}
            )
    if step == "complete":
        package = package_of(case)
        if package is None or package.status == PackageStatus.BUILDING:
            raise ValidationError(_("The data package is still being built."))
        if package.status != PackageStatus.READY:
            raise ValidationError(
                _("The data package could not be built: %(error)s. Reopen and prepare again.")
                % {"error": package.error or package.get_status_display()}
            )


def _check_change(case: Case, step: str, arguments: dict[str, Any]) -> None:
    if step in ("approve_plan", "lift_restriction"):
        purpose = plans.LIFT if step == "lift_restriction" else case.right
        if step == "lift_restriction":
            applied = plans.current(case, Right.RESTRICTION)
            if applied is None or applied.status != PlanStatus.APPROVED:
                raise ValidationError(_("No restriction was applied through the systems."))
        plan = plans.current(case, purpose)
        if plan is None or plan.status != PlanStatus.DRAFT:
            raise ValidationError(_("Make the plan first (a dry run), then review it."))
        if str(arguments.get("plan", "")).strip().lower() != plan.sha256:
            raise ValidationError(
                _("The plan changed since you reviewed it, or the hash is wrong: review it again.")
            )
        if problems := plans.problems(plan.body):
            raise ValidationError(" ".join(problems))
        if outdated := plans.outdated(case, plan):
            raise ValidationError(" ".join(outdated))
        if purpose == plans.LIFT and (why := plans.lift_refusal(case, plan.body)):
            raise ValidationError(why)
    elif step == "prepare_response" and case.controller.systems.exists():
        plan = plans.current(case)
        if plan is None or plan.status != PlanStatus.APPROVED:
            raise ValidationError(_("Approve the plan of changes first."))
        waiting = [e.system_title for e in plan.executions.all() if not e.settled]
        if waiting:
            raise ValidationError(
                _(
                    "Not every change is done: %(systems)s. Wait for it, try it again, confirm "
                    "a manual task, make the plan again, or skip it with a reason."
                )
                % {"systems": ", ".join(waiting)}
            )
        _check_notices(plan)
    elif step == "complete" and case.controller.systems.exists():
        # Checked again when the letter is written: a notice whose mail bounced meanwhile
        # waits for the officer, and the letter names every recipient (C-154/21).
        plan = plans.current(case)
        if plan is not None and plan.status == PlanStatus.APPROVED:
            _check_notices(plan)
    elif (
        step == "refuse"
        and case.right == Right.OBJECTION
        and arguments.get("ground") in (*OBJECTION_GROUNDS, RefusalGround.NATIONAL_LAW)
        # Recorded as an objection to other processing only, the marketing is not objected
        # to; otherwise (to marketing, both, or not yet said) the systems' marketing counts.
        and case.objection_to != ObjectionTo.PARTICULAR_SITUATION
        and _marketing(case)
    ):
        raise ValidationError(
            _(
                "An objection to direct marketing is absolute (Art. 21(3)): it cannot be "
                "refused on compelling grounds. Carry out the marketing changes; refuse only "
                "the rest (a partial refusal when sending the response)."
            )
        )


def _check_notices(plan: Plan) -> None:
    """No response while a recipient's notice is being mailed or waits for the officer: the
    letter says of every recipient whether it was told (Art. 19)."""
    if mailing := execute.mailing_recipients(plan):
        raise ValidationError(
            _(
                "The notices to these recipients have not left yet (Art. 19): %(recipients)s. "
                "Wait for their mail (see Mail below): a recipient is told once it has left."
            )
            % {"recipients": "; ".join(mailing)}
        )
    if recipients := execute.waiting_recipients(plan):
        raise ValidationError(
            _(
                "These recipients wait for you (Art. 19): %(recipients)s. For each, give an "
                "address to tell it by, record that it was told another way, record an "
                "exception of Art. 19 (impossible, disproportionate effort) with its "
                "reason, or that none of the subject's data went to it."
            )
            % {"recipients": "; ".join(recipients)}
        )


def _marketing(case: Case) -> bool:
    """Whether refusing this objection could leave direct marketing of the subject going on:
    yes wherever a system declares such processing, unless the plan's dry run counted none of
    the subject's rows in it (no plan yet, or a system that could not be counted, is a yes)."""
    if not plans.marketing_declared(case):
        return False
    plan = plans.current(case)
    if plan is None or any(s.get("error") for s in plan.body["systems"]):
        return True
    return any(
        t.get("marketing") and t.get("rows")
        for s in plan.body["systems"]
        for t in s.get("tables", ())
    )


def _on_change(case: Case, step: str, actor: Actor) -> None:
    now = timezone.now()
    # Corrections come first: a rectification's plan is made once the officer has entered them.
    first = case.state == State.IN_PROGRESS and not case.plans.exists()
    if first and case.right != Right.RECTIFICATION:
        transaction.on_commit(lambda: plan_soon(case.pk))
    if step == "approve_plan":
        execute.approve(case, plans.current(case), actor=actor, at=now)
    elif step == "lift_restriction":
        plan = plans.current(case, plans.LIFT)
        execute.approve(case, plan, actor=actor, at=now)
        lift_on = now + dt.timedelta(days=settings.RESTRICTION_LIFT_NOTICE_DAYS)
        last = case.events.order_by("-seq").first()
        queue_mail(
            case,
            "lift_notice",
            # It asks the subject to answer before the lifting: the answer goes to the
            # controller's privacy address (mail in brings it to the case).
            reply_to_controller=True,
            lift_on=lift_on.date().isoformat(),
            reason=(last.data or {}).get("reason", "") if last else "",
            message=last.message if last else "",
        )
    elif step == "complete":
        plan = plans.current(case)
        if plan is None or plan.status != PlanStatus.APPROVED:
            return
        paragraphs = completion.paragraphs(case, plan)
        letter = "\n\n".join(paragraphs)
        Message.objects.create(
            case=case, direction=Direction.TO_SUBJECT, body=letter, author=None, created_at=now
        )
        note(
            case, actor=Actor.system(), action="completion_letter", at=now, data={"letter": letter}
        )
        # The letter is the decision as much as the response's own mail: it is communicated
        # once both have left (cases.mail).
        queue_mail(
            case,
            "change_report",
            carries=Carries.DECISION,
            at=now,
            letter=letter,
            paragraphs=paragraphs,
        )


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
    if case is None or case.plans.exists() or not plans.plannable(case, case.right):
        return
    with contextlib.suppress(ValidationError):  # made meanwhile, or no longer in progress
        plans.make(case, actor=Actor.system())


def on_taken(
    sender: Any, *, case: Case, step: str, source: str, actor: Actor | None = None, **kwargs: Any
) -> None:
    if case.right in plans.CHANGE_RIGHTS:
        _on_change(case, step, actor or Actor.system())
    if case.right in DATA_RIGHTS:
        if case.state == State.IN_PROGRESS:
            start(case)  # once: it does nothing when the searches exist
        if step == "prepare_response" and case.collections.exists():
            request_build(case)
        elif step == "reopen":
            supersede(case)
        elif step == "complete":
            release(case, timezone.now())
    if case.state in FINAL_STATES and source not in FINAL_STATES:
        if case.state != State.COMPLETED:
            supersede(case)
            execute.cancel(case, timezone.now())
        discard_staging(case)


def _rows(value: Any, tz: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    return "; ".join(f"{name}: {count}" for name, count in value.items()) or _("nothing found")


EVENT_TYPES = {
    "collection_started": gettext_lazy("Search of the controller's systems started"),
    "system_asked": gettext_lazy("Processor asked for the subject's data"),
    "system_searched": gettext_lazy("System searched"),
    "system_failed": gettext_lazy("Search of a system failed"),
    "system_retried": gettext_lazy("Search of a system tried again"),
    "system_skipped": gettext_lazy("System skipped"),
    "manual_answered": gettext_lazy("Manual search answered"),
    "withheld": gettext_lazy("Part of the data withheld"),
    "package_built": gettext_lazy("Data package built"),
    "package_failed": gettext_lazy("Data package could not be built"),
    "package_released": gettext_lazy("Data package released to the subject"),
    # Where the statement is silent on an item of the access letter, the officer's words.
    "letter_item_supplied": gettext_lazy("Item of the access letter supplied by the officer"),
    # Recorded when the subject asks for it; the mail that carries it shows when it left.
    "download_code_sent": gettext_lazy("Download code asked for by the subject"),
    "package_downloaded": gettext_lazy("Data package downloaded"),
    "package_revoked": gettext_lazy("Download link withdrawn"),
    "package_exported": gettext_lazy("Data package written to a file by an operator"),
    "package_viewed": gettext_lazy("Data package downloaded by an officer"),
    "package_expired": gettext_lazy("Download link expired; package deleted"),
    "plan_made": gettext_lazy("Plan of changes made (dry run)"),
    "correction_approved": gettext_lazy("Correction approved"),
    "system_asked_to_change": gettext_lazy("Processor asked to act on the request"),
    "system_changed": gettext_lazy("Change done in a system"),
    "change_blocked": gettext_lazy("Change stopped: the subject's data changed since the plan"),
    "change_superseded": gettext_lazy("Change not made: its plan was replaced"),
    "change_failed": gettext_lazy("Change in a system failed"),
    "change_retried": gettext_lazy("Change in a system tried again"),
    "change_skipped": gettext_lazy("Change in a system skipped"),
    # Each recipient's state once the changes settled; a notice by mail is told when it left.
    "recipients_notified": gettext_lazy("Recipients' notices (Art. 19)"),
    "recipient_told": gettext_lazy("Notice to a recipient sent (Art. 19)"),
    "notice_undelivered": gettext_lazy("Notice to a recipient did not arrive (Art. 19)"),
    "recipient_answered": gettext_lazy("Answer from a recipient"),
    "recipient_decided": gettext_lazy("Officer's decision on a recipient (Art. 19)"),
    # The letter as written; the response's mail records when it left ("decision_sent").
    "completion_letter": gettext_lazy("Completion letter to the subject"),
    "change_cancelled": gettext_lazy("Change not made: the request ended first"),
}


def purpose_words(purpose: str) -> str:
    """A plan's purpose in words: the right, or the lifting of a restriction."""
    if purpose == plans.LIFT:
        return _("Lifting of a restriction (Art. 18(3))")
    return str(dict(Right.choices).get(purpose, purpose))


def op_words(op: str, purpose: str, via: str = "") -> str:
    """What a plan does to a table, in the officer's words; a lifting's never say "restrict"."""
    if op == "via":
        if purpose == plans.LIFT:
            return (
                _("lifted with its parent (%(parent)s)") % {"parent": via}
                if via
                else (_("lifted with its parent"))
            )
        return (
            _("restricted with its parent (%(parent)s)") % {"parent": via}
            if via
            else (_("restricted with its parent"))
        )
    words = {
        "delete": _("delete"),
        "update": _("change"),
        "restrict": _("restrict"),
        plans.LIFT: _("lift the restriction"),
        "keep": _("keep"),
        "none": _("nothing declared"),
    }
    return words.get(op, op)


def entry_words(table: dict[str, Any], purpose: str) -> str:
    """What a plan does to one table (its entry), in the officer's and the auditor's words."""
    if table["op"] == "none" and table.get("unmarked"):
        return _("keep as it is")  # a restriction that cannot mark it: said beside it
    return op_words(table["op"], purpose, table.get("via", {}).get("label", ""))


def already_words(already: dict[str, Any]) -> str:
    """An objection's or a withdrawal's rows that had stopped already (a plan table's
    ``already``), for the officer and the auditor: how many, since when, left as they are."""
    said = {"n": int(already.get("rows", 0)), "dates": ", ".join(already.get("since", ()))}
    if said["dates"]:
        return _("%(n)d stopped already (since %(dates)s): left as they are") % said
    return _("%(n)d stopped already: left as they are") % said


def unmarked_words(unmarked: dict[str, str]) -> str:
    """Why a table's rows cannot be marked restricted, for the officer and the auditor: the
    systems file's own words, that it declares no way, or that the parent is erased."""
    reasons = {
        "declared": lambda: unmarked.get("text", ""),
        "parent_erased": lambda: _("the parent it is restricted through is erased"),
    }
    reason = reasons.get(unmarked.get("why", ""), lambda: _("the systems file declares no way"))()
    return _("cannot be marked restricted: %(reason)s") % {"reason": reason}


def _changes(value: Any, tz: Any, purpose: str = "") -> str:
    if not isinstance(value, dict):
        return str(value)
    parts = []
    for system, tables in value.items():
        if isinstance(tables, dict):
            # Each table's "op count", as plans.summary keeps it: the op said in words.
            said = {}
            for name, text in tables.items():
                op, _space, count = str(text).rpartition(" ")
                said[name] = f"{op_words(op, purpose)} {count}" if op else text
            what = _rows(said, tz)
        else:
            what = str(tables)
        parts.append(f"{system} ({what})")
    return _("Changes: %(list)s") % {"list": "; ".join(parts) or _("none")}


def told_how(notice: Any, titles: dict[str, str]) -> str:
    """How a recipient was told, for the officer and the auditor ("" while it is not, or
    when nothing says): through the request made to its processor's system (``titles``: the
    plan's system titles by name), by mail to its address, or another way (the officer's note
    says how)."""
    how = notice.how
    if how == "system":
        name = notice.system_name
        return _("through the request made to its system (%(system)s)") % {
            "system": titles.get(name, name)
        }
    if how == "email":
        return _("by mail to %(address)s") % {
            "address": notice.mail.to if notice.mail else notice.address
        }
    if how == "other":
        return _("another way")
    return ""


def _notices(value: Any, tz: Any) -> str:
    labels = dict(NoticeStatus.choices)  # the status's words, never its code
    exceptions = dict(NoticeException.choices)
    return "; ".join(
        f"{n['recipient']}: {labels.get(n['status'], n['status'])}"
        + (f": {_(n['reason'])}" if n.get("reason") else "")
        + (f": {exceptions.get(n['exception'], n['exception'])}" if n.get("exception") else "")
        + (f" ({n['note']})" if n.get("note") else "")
        for n in value
    )


def _decision(value: Any, tz: Any) -> str:
    """An officer's decision on a recipient that waited for them, in words."""
    texts = {
        "mail": lambda: _("Told by mail"),
        "other": lambda: _("Told another way"),
        "impossible": lambda: _("Not told: it proves impossible (Art. 19)"),
        "disproportionate_effort": lambda: _(
            "Not told: it involves a disproportionate effort (Art. 19)"
        ),
        "not_disclosed": lambda: _("None of the subject's data went to it"),
    }
    return texts[value]() if value in texts else str(value)


RENDERERS = {
    "systems": lambda v, tz: _("Systems: %(list)s") % {"list": ", ".join(map(str, v))},
    "identities": lambda v, tz: _("Searched by: %(list)s") % {"list": ", ".join(map(str, v))},
    "system": lambda v, tz: _("System: %(name)s") % {"name": v},
    "request": lambda v, tz: _("Request at the processor: %(id)s") % {"id": v},
    "rows": lambda v, tz: _("Records: %(rows)s") % {"rows": _rows(v, tz)},
    "files": lambda v, tz: ngettext("%(n)d file", "%(n)d files", int(v)) % {"n": int(v)},
    "warnings": lambda v, tz: _("Warnings: %(list)s") % {"list": "; ".join(map(str, v))},
    "error": lambda v, tz: _("Error: %(error)s") % {"error": v},
    "attempts": lambda v, tz: _("after %(n)s tries") % {"n": v},
    "found": lambda v, tz: _("Found: %(answer)s") % {"answer": _("yes") if v else _("nothing")},
    "file": lambda v, tz: _("Export file: %(name)s") % {"name": v},
    "size": lambda v, tz: _("%(n)s bytes") % {"n": v},
    "note": lambda v, tz: _("Note: %(text)s") % {"text": v},
    "table": lambda v, tz: _("Table: %(name)s") % {"name": v},
    "record": lambda v, tz: _("Record: %(key)s") % {"key": v} if v else _("Every record"),
    "column": lambda v, tz: _("Field: %(name)s") % {"name": v} if v else _("Every field"),
    "package": lambda v, tz: _("Package: %(kind)s") % {"kind": v},
    "sha256": lambda v, tz: f"SHA-256 {v}",
    "manifest": lambda v, tz: _("Manifest SHA-256 %(hash)s") % {"hash": v},
    "withheld": lambda v, tz: _("Withheld: %(n)s part(s)") % {"n": len(v)},
    "expires": lambda v, tz: _("Link valid until %(when)s") % {"when": v},
    "plan": lambda v, tz: _("Plan SHA-256 %(hash)s") % {"hash": v},
    "purpose": lambda v, tz: _("For: %(purpose)s") % {"purpose": purpose_words(v)},
    "replaces": lambda v, tz: _("Replaces the approved plan SHA-256 %(hash)s") % {"hash": v},
    "changes": _changes,
    "verified": lambda v, tz: _("Verified: searched again, nothing planned is left") if v else "",
    "before_sha256": lambda v, tz: (
        _("Previous values kept as SHA-256 only: %(fields)s") % {"fields": ", ".join(v)}
    ),
    "processor": lambda v, tz: _("The processor reports: %(status)s") % {"status": v},
    "confirmed": lambda v, tz: _("Confirmed: %(text)s") % {"text": v},
    "notices": _notices,
    "decision": _decision,
    "recipient": lambda v, tz: _("Recipient: %(name)s") % {"name": v},
    "answer": lambda v, tz: _("Answer: %(text)s") % {"text": v},
    "letter": lambda v, tz: _("Letter: %(text)s") % {"text": v},
    "value": lambda v, tz: _("New value: %(text)s") % {"text": v},
    "after_skip": lambda v, tz: _("It ran although it had been skipped meanwhile") if v else "",
    "findable": lambda v, tz: (
        _("Kept rows findable by key in a later access request: %(list)s")
        % {"list": ", ".join(f"{table} {n}" for table, n in v.items())}
    ),
    "stopped_already": lambda v, tz: (
        _("Stopped already before the change, left as they were: %(list)s")
        % {"list": ", ".join(f"{table} {n}" for table, n in v.items())}
    ),
    "kept_keys": lambda v, tz: (
        _("Also searched by the keys of records kept after an erasure: %(list)s")
        % {"list": "; ".join(f"{system} ({_rows(tables, tz)})" for system, tables in v.items())}
    ),
    "state": lambda v, tz: _("Request: %(state)s") % {"state": v},
}


# --- Events read as a whole: what one key means depends on another (the kind of system).

# A change's rows by what was done to them (its plan's operation on the table).
_DONE_AS = {
    "delete": lambda: _("Deleted: %(list)s"),
    "update": lambda: _("Changed: %(list)s"),
    "restrict": lambda: _("Restricted: %(list)s"),
    plans.LIFT: lambda: _("Lifted: %(list)s"),
    "via": lambda: _("Restricted with their parent: %(list)s"),
    "via-lift": lambda: _("Lifted with their parent: %(list)s"),
}


def _manual(data: dict[str, Any], tz: Any) -> str:
    """A manual task as the officer recorded the owner's answer: who confirmed it, when, how;
    never verified (nobody searched) and, for data kept under a ground, never erased."""
    said = {
        "officer": data.get("confirmed_by") or "?",
        "when": events.moment(data.get("confirmed_at", ""), tz),
        "note": data.get("confirmed", ""),
    }
    task = data.get("task")
    if data.get("found") is False:
        return (
            _(
                "Its owner found none of the subject's data there, as confirmed by %(officer)s "
                "on %(when)s: %(note)s"
            )
            % said
        )
    if task == "keep":
        said["ground"] = data.get("keep_ground", "")
        if data.get("keep_until"):
            said["until"] = completion.date_text(data["keep_until"])
            return (
                _(
                    "Kept under %(ground)s until %(until)s; restricted by its owner, as "
                    "confirmed by %(officer)s on %(when)s: %(note)s"
                )
                % said
            )
        return (
            _(
                "Kept under %(ground)s; restricted by its owner, as confirmed by %(officer)s on "
                "%(when)s: %(note)s"
            )
            % said
        )
    texts = {
        "delete": lambda: _(
            "Deleted by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
        "restriction": lambda: _(
            "Restricted by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
        "lift": lambda: _(
            "Restriction lifted by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
        "rectification": lambda: _(
            "Corrected by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        ),
    }
    text = texts.get(str(task)) or (
        lambda: _(
            "Processing stopped by its owner, as confirmed by %(officer)s on %(when)s: %(note)s"
        )
    )
    return text() % said


def describe_change(data: dict[str, Any], tz: Any, *, heading: bool = True) -> list[str]:
    """A ``system_changed`` event's data (``execute.evidence``), by kind: an SQL system's rows
    deleted, changed or restricted, searched again; a manual task confirmed by whom and when;
    a processor's report of completion with its answer. Events of the earlier shape (an SQL
    count and "verified" on every kind) are read as what they can prove: a manual task's or
    a processor's empty count and "verified" are not repeated. ``heading``: with the system,
    the purpose and the plan (the panel and the report show them beside it)."""
    kind = data.get("system_kind") or (
        "manual" if "confirmed" in data else "http" if "processor" in data else "sql"
    )
    named = ("system", "purpose", "plan") if heading else ()
    lines = [RENDERERS[key](data[key], tz) for key in named if key in data]
    if kind == "sql" and "done" in data:
        grouped: dict[str, list[str]] = {}
        lifting = data.get("purpose") == plans.LIFT
        for item in data["done"]:
            if item.get("rows"):
                op = item.get("op", "")
                op = "via-lift" if op == "via" and lifting else op
                grouped.setdefault(op, []).append(f"{item['table']} {item['rows']}")
        for op, items in grouped.items():
            text = _DONE_AS.get(op, _DONE_AS["update"])()
            lines.append(text % {"list": ", ".join(items)})
        if not grouped and data.get("stopped_already"):
            # The subject's rows were there, and had stopped already (said below).
            lines.append(_("Nothing was changed"))
        elif not grouped:
            lines.append(_("Nothing of the subject's was there to change"))
        for item in data.get("kept", ()):
            said = {"table": item["table"], "n": int(item["rows"]), "ground": item["ground"]}
            if item.get("until"):
                said["until"] = completion.date_text(item["until"])
                text = _("%(table)s: %(n)d kept under %(ground)s until %(until)s")
            else:
                text = _("%(table)s: %(n)d kept under %(ground)s")
            lines.append(text % said)
        if data.get("files"):
            n = int(data["files"])
            lines.append(ngettext("%(n)d file deleted", "%(n)d files deleted", n) % {"n": n})
        if data.get("stopped_already"):
            lines.append(RENDERERS["stopped_already"](data["stopped_already"], tz))
        if data.get("findable"):
            lines.append(RENDERERS["findable"](data["findable"], tz))
    elif kind == "sql":  # the earlier shape: counts, files and "verified", all true of SQL
        lines += [RENDERERS[key](data[key], tz) for key in ("rows", "files") if key in data]
    elif kind == "manual" and "system_kind" in data:
        lines.append(_manual(data, tz))
    elif kind == "manual":
        lines.append(RENDERERS["confirmed"](data["confirmed"], tz))
    elif "system_kind" in data:
        answer = data.get("answer") or {}
        lines.append(
            _("The processor reported the request completed on %(when)s; its answer: %(answer)s")
            % {
                "when": events.moment(data.get("reported_at", ""), tz),
                "answer": ", ".join(f"{k}: {v}" for k, v in answer.items()) or "—",
            }
        )
        if data.get("request"):
            lines.append(RENDERERS["request"](data["request"], tz))
    else:
        lines.append(RENDERERS["processor"](data["processor"], tz))
    if kind == "sql" and data.get("verified"):
        lines.append(RENDERERS["verified"](True, tz))
    lines += [
        RENDERERS[key](data[key], tz)
        for key in ("before_sha256", "warnings", "after_skip")
        if data.get(key)
    ]
    return lines


def describe_blocked(data: dict[str, Any], tz: Any) -> list[str]:
    """A change stopped before it wrote: per table, the subject's rows found and those the
    approved plan counted."""
    lines = [RENDERERS[key](data[key], tz) for key in ("system", "plan") if key in data]
    planned = data.get("planned", {})
    for table, found in data.get("found_now", {}).items():
        lines.append(
            _(
                "%(table)s: %(found)d rows hold the subject now, the approved plan counted "
                "%(planned)d"
            )
            % {"table": table, "found": int(found), "planned": int(planned.get(table, 0))}
        )
    lines.append(_("Nothing was changed there: make the plan again."))
    return lines


def describe_plan(data: dict[str, Any], tz: Any) -> list[str]:
    """A plan made: its hash, its purpose and what it does per table, in words (a lifting's
    say "lift", never "restrict")."""
    purpose = str(data.get("purpose", ""))
    lines = [RENDERERS[key](data[key], tz) for key in ("plan", "purpose") if key in data]
    if "changes" in data:
        lines.append(_changes(data["changes"], tz, purpose))
    if data.get("already"):
        # The rows counted apart from the changes: they had stopped already.
        lines.append(
            _("Stopped already, left as they are: %(list)s")
            % {
                "list": "; ".join(
                    f"{system} ({_rows(tables, tz)})" for system, tables in data["already"].items()
                )
            }
        )
    if "replaces" in data:
        lines.append(RENDERERS["replaces"](data["replaces"], tz))
    return lines


def describe_supplied(data: dict[str, Any], tz: Any) -> list[str]:
    """An item of the access letter the officer supplied: what, the answer, whether kept."""
    answer = _("Answer: none") if data.get("answer") == letter.NONE else _("Text: %(text)s") % data
    return [
        _("Item: %(item)s") % {"item": data["item"]},
        answer,
        _("Kept for the controller's next requests") if data.get("reuse") else "",
    ]


DESCRIBERS = {
    "letter_item_supplied": describe_supplied,
    "system_changed": describe_change,
    "change_blocked": describe_blocked,
    "plan_made": describe_plan,
}
