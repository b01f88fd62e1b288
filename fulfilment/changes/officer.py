"""The officer's side of the rights that change data, in the admin: a panel on the case file with
the plan (what each system will do, counted by a dry run), its approval, each change's
progress and how each done change was established (searched again, confirmed by an officer,
reported by the processor), the plans it replaced, the Art. 19 notices and their delivery, and
the pages to act on them: make the plan again (an outdated one, or an approved one whose changes
are not all settled: it replaces it), enter a correction (rectification), confirm a manual task
with the owner's answer, retry or skip a change, settle a recipient that waits for the officer
(an address to tell it by, told another way, an exception of Art. 19 with its reason, or none of
the subject's data went to it), record a recipient's answer (a reply from its address that
quotes the case is listed under it), and plan the lifting of a restriction.

As in ``fulfilment.searches.officer``: every page checks scope; every action, that the user is an
officer of the case's controller. Auditors see the panel, never a button.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.actors import Actor
from cases.models import Case, InboundMail, State
from cases.workflow import available_steps
from controllers import access
from controllers.models import Right

from ..models import Change, ChangeStatus, Notice, NoticeException, NoticeStatus, PlanStatus
from ..systems import pages
from . import execute, plans
from .completion import done_changes
from .events import already_words, describe_change, entry_words, told_how, unmarked_words


def _notes(table: dict[str, Any]) -> list[str]:
    """What the plan says beside a table's operation: a flag set in the same change, why its
    rows cannot be marked, what processing it stops and what has stopped already, what
    becomes of kept rows whose link to the subject is cut."""
    notes = []
    if table.get("restricted"):
        notes.append(_("marked restricted in the same change"))
    if table.get("unmarked"):
        notes.append(unmarked_words(table["unmarked"]))
    if table.get("processing"):
        notes.append(_("stops: %(processing)s") % {"processing": table["processing"]})
    if table.get("already"):
        notes.append(already_words(table["already"]))
    if table.get("after") == "findable":
        notes.append(
            _("kept rows stay findable: their keys are recorded for a later access request")
        )
    elif table.get("after") == "anonymous":
        notes.append(
            _("kept rows no longer identify the subject (every column emptied or anonymous)")
        )
    return notes


def _rows(plan: Any) -> list[dict[str, Any]]:
    """The plan's systems, each with its change (if any; for a system done under the plan
    this one replaced, that one's), for the template; each table with its operation in words,
    and each done change with how it was established."""
    if plan is None:
        return []
    changes = {e.system_name: e for e in plan.changes.select_related("plan", "answered_by")}
    earlier = {
        e.system_name: e for e in done_changes(plan.case, plan.purpose) if e.plan_id != plan.pk
    }
    zone = timezone.get_current_timezone()
    rows = []
    for system in plan.body["systems"]:
        entry = {**system}
        if "tables" in system:
            entry["tables"] = [
                {
                    **t,
                    "op_label": entry_words(t, plan.purpose),
                    # The rows it changes: those stopped already are said apart (notes).
                    "count": plans.to_change(t),
                    "notes": _notes(t),
                }
                for t in system["tables"]
            ]
        change = changes.get(system["system"])
        carried = change is None and bool(system.get("done_under"))
        if carried:
            change = earlier.get(system["system"])
        done = change is not None and change.status == ChangeStatus.DONE
        rows.append(
            {
                "entry": entry,
                "change": change,
                "carried": carried,
                "outcome": (
                    describe_change(execute.evidence(change), zone, heading=False) if done else []
                ),
            }
        )
    return rows


def _replaced(case: Case, plan: Any) -> list[dict[str, Any]]:
    """The approved plans the current one replaced, newest first, with what became of their
    changes (done ones stay done; the others were superseded)."""
    if plan is None:
        return []
    old = case.plans.filter(
        purpose=plan.purpose, status=PlanStatus.SUPERSEDED, approved_at__isnull=False
    ).order_by("-pk")
    return [{"plan": p, "rows": _rows(p)} for p in old]


def _notices(case: Case, plan: Any) -> list[Notice]:
    """The plan's notices for the panel, each with why it is as it is (in the reader's
    language), the words it is quoted in, who decided, and the mail that arrived from its
    address quoting the case (mail in keeps it apart from the subject's: its sender is no
    proof, and the officer reads it before recording an answer)."""
    found = list(plan.notices.select_related("mail", "decided_by"))
    replies: dict[str, list[InboundMail]] = {}
    for mail in case.inbound_mail.exclude(sender="").order_by("received_at"):
        replies.setdefault(mail.sender.lower(), []).append(mail)
    titles = {s["system"]: s["title"] for s in plan.body["systems"]}
    for notice in found:
        notice.why = _(notice.reason) if notice.reason else ""
        notice.told_how = told_how(notice, titles)
        notice.replies = replies.get(notice.address.lower(), []) if notice.address else []
    return found


def changes_panel(case: Case, request: HttpRequest) -> str:
    if case.right not in plans.CHANGE_RIGHTS or not case.controller.systems.exists():
        return ""
    officer = access.is_officer(request.user, case.controller)
    plan = plans.current(case)
    lift = plans.current(case, plans.LIFT) if case.right == Right.RESTRICTION else None
    actor = Actor.officer(request.user)
    steps = available_steps(case, actor) if officer else []
    # An approved plan is made again while one of its changes is not settled (and none runs).
    settled = (
        plan is not None and plan.status == PlanStatus.APPROVED and plans.replace_refusal(plan)
    )
    lift_settled = (
        lift is not None and lift.status == PlanStatus.APPROVED and (plans.replace_refusal(lift))
    )
    # A lifting not yet approved that would lift nothing: said, and not offered.
    lift_refusal = (
        plans.lift_refusal(case, lift.body)
        if lift is not None and lift.status == PlanStatus.DRAFT
        else ""
    )
    # Said only of a plan the officer can still make again: a draft, or an approved plan that
    # ``replace_refusal`` lets be replaced (a settled one is the record, and stays as it is).
    outdated = plans.outdated(case, plan) if plan is not None and not settled else []
    return render_to_string(
        "fulfilment/admin/changes.html",
        {
            "case": case,
            "officer": officer,
            "plan": plan,
            "rows": _rows(plan),
            "replaced": _replaced(case, plan),
            "problems": plans.problems(plan.body) if plan else [],
            "outdated": outdated,
            "stopped": plan is not None
            and plan.status == PlanStatus.APPROVED
            and plan.changes.filter(status=ChangeStatus.FAILED).exists(),
            "notices": _notices(case, plan) if plan else [],
            "corrections": case.corrections.all(),
            "rectifying": case.right == Right.RECTIFICATION
            and case.state == State.IN_PROGRESS
            and not settled,
            "can_plan": officer and plans.plannable(case, case.right) and not settled,
            "approve_url": _step_url(case, "approve_plan", plan)
            if "approve_plan" in steps and plan and plan.status == PlanStatus.DRAFT and not outdated
            else "",
            "lift": lift,
            "lift_rows": _rows(lift),
            "lift_replaced": _replaced(case, lift),
            "can_plan_lift": officer
            and plans.plannable(case, plans.LIFT)
            and plan is not None
            and plan.status == PlanStatus.APPROVED
            and not lift_settled,
            "lift_refusal": lift_refusal,
            "lift_url": _step_url(case, "lift_restriction", lift)
            if "lift_restriction" in steps
            and lift
            and lift.status == PlanStatus.DRAFT
            and not lift_refusal
            else "",
        },
        request=request,
    )


def _step_url(case: Case, step: str, plan: Any) -> str:
    base = reverse("admin:dsar_case_step", args=[case.pk, step])
    return f"{base}?plan={plan.sha256}"


def _change(request: HttpRequest, pk: int) -> Change:
    found = Change.objects.select_related("case").filter(pk=pk).first()
    if found is None:
        raise Http404
    pages.case(request, found.case_id, act=True)
    return found


def plan_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Make the plan (again): a dry run against every system."""
    case = pages.case(request, pk, act=True)
    purpose = plans.LIFT if request.POST.get("purpose") == plans.LIFT else case.right

    def make() -> str:
        plan = plans.make(case, actor=Actor.officer(request.user), purpose=purpose)
        return _("Plan made: %(hash)s") % {"hash": plan.sha256[:12]}

    return pages.button(request, case, make)


class CorrectionForm(forms.Form):
    field = forms.ChoiceField(label=gettext_lazy("Field to correct"))
    value = forms.CharField(
        label=gettext_lazy("What it should be (as the subject stated it)"),
        max_length=plans.MAX_VALUE,
    )

    def __init__(self, *args: Any, rectifiable: list[tuple[str, ...]], **kwargs: Any) -> None:
        """``rectifiable``: (system, table, column, label) of each field that may be corrected
        (``plans.rectifiable``); the chosen one is cleaned to its tuple."""
        super().__init__(*args, **kwargs)
        self.rectifiable = {"/".join(f[:3]): f for f in rectifiable}
        self.fields["field"].choices = [(key, f[3]) for key, f in self.rectifiable.items()]

    def clean_field(self) -> tuple[str, ...]:
        return self.rectifiable[self.cleaned_data["field"]]


class _CorrectionPage(pages.FormPage[Case]):
    """Approve one correction the subject asked for (Art. 16)."""

    form_class = CorrectionForm

    def target(self, pk: int) -> Case:
        return pages.case(self.request, pk, act=True)

    def form_kwargs(self, target: Case) -> dict[str, Any]:
        return {"rectifiable": plans.rectifiable(target)}

    def act(self, target: Case, data: dict[str, Any]) -> None:
        system, table, column, _label = data["field"]
        plans.add_correction(
            target, actor=self.actor, system=system, table=table, column=column, value=data["value"]
        )

    def title(self, target: Case) -> str:
        return _("Approve a correction")

    def help(self, target: Case) -> str:
        return _("What the subject wrote:") + "\n" + (target.details or "—")


correction_view = _CorrectionPage.view()


class ConfirmForm(forms.Form):
    # What the owner reported: whether there was anything of the subject's to act on. Asked,
    # never assumed: it decides whether recipients are told of a change (Art. 19).
    outcome = forms.ChoiceField(
        label=gettext_lazy("What the owner reported"),
        choices=[
            ("done", gettext_lazy("Done as asked: the subject's data were there")),
            ("nothing", gettext_lazy("None of the subject's data was there")),
        ],
        widget=forms.RadioSelect,
    )
    note = pages.record_text(gettext_lazy("Who confirmed it, when and how (kept in the record)"))


class _ChangePage(pages.FormPage[Change]):
    def target(self, pk: int) -> Change:
        return _change(self.request, pk)


class _ConfirmPage(_ChangePage):
    form_class = ConfirmForm

    def act(self, target: Change, data: dict[str, Any]) -> None:
        execute.confirm_manual(
            target, actor=self.actor, note_text=data["note"], found=data["outcome"] == "done"
        )

    def title(self, target: Change) -> str:
        return _("Confirm the task in %(system)s") % {"system": target.system_title}


confirm_view = _ConfirmPage.view()


def change_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    change = _change(request, pk)

    def retry() -> str:
        execute.retry(change, actor=Actor.officer(request.user))
        return _("%(system)s: trying again.") % {"system": change.system_title}

    return pages.button(request, change.case, retry)


class _SkipPage(_ChangePage):
    def act(self, target: Change, data: dict[str, Any]) -> None:
        execute.skip(target, actor=self.actor, reason=data["reason"])

    def title(self, target: Change) -> str:
        return _("Skip %(system)s") % {"system": target.system_title}

    def help(self, target: Change) -> str:
        return _(
            "The system is left as it is. Say why: it goes into the record and into the "
            "subject's letter."
        )


change_skip_view = _SkipPage.view()


class AnswerForm(forms.Form):
    answer = pages.record_text(gettext_lazy("The recipient's answer (kept in the record)"))


class _NoticePage(pages.FormPage[Notice]):
    def target(self, pk: int) -> Notice:
        notice = Notice.objects.select_related("case", "plan").filter(pk=pk).first()
        if notice is None:
            raise Http404
        pages.case(self.request, notice.case_id, act=True)
        return notice


class _NoticeAnswerPage(_NoticePage):
    form_class = AnswerForm

    def act(self, target: Notice, data: dict[str, Any]) -> None:
        execute.record_answer(target, actor=self.actor, answer=data["answer"])

    def title(self, target: Notice) -> str:
        return _("Answer from %(recipient)s") % {"recipient": target.recipient}


notice_answer_view = _NoticeAnswerPage.view()


class DecideForm(forms.Form):
    # What became of a recipient that waits for the officer (Art. 19): each choice an event in
    # the record, with who and when.
    decision = forms.ChoiceField(
        label=gettext_lazy("What to do about this recipient"),
        choices=[
            (execute.TELL_BY_MAIL, gettext_lazy("Tell it by mail, at the address below")),
            (execute.TOLD_OTHERWISE, gettext_lazy("It was told another way (say how and when)")),
            (
                NoticeException.IMPOSSIBLE,
                gettext_lazy("Not told: telling it proves impossible (Art. 19; give the reason)"),
            ),
            (
                NoticeException.DISPROPORTIONATE,
                gettext_lazy(
                    "Not told: telling it would involve a disproportionate effort (Art. 19; give "
                    "the reason)"
                ),
            ),
            (
                execute.NOT_DISCLOSED,
                gettext_lazy("None of the subject's data went to it (say how you know)"),
            ),
        ],
        widget=forms.RadioSelect,
    )
    address = forms.EmailField(label=gettext_lazy("Address to tell it by"), required=False)
    note = pages.record_text(
        gettext_lazy(
            "How, or why (kept in the record; a reason not to tell is quoted to the subject in "
            "these words)"
        ),
        required=False,
    )


class _NoticeDecidePage(_NoticePage):
    """Settle a recipient that waits for the officer (no way to tell it declared, data that
    reach it only on occasion, a processor that did not say what it held)."""

    form_class = DecideForm

    def form_kwargs(self, target: Notice) -> dict[str, Any]:
        return {"initial": {"address": target.address}}

    def act(self, target: Notice, data: dict[str, Any]) -> None:
        execute.decide(
            target,
            actor=self.actor,
            decision=data["decision"],
            address=data["address"] or "",
            note_text=data["note"],
        )

    def title(self, target: Notice) -> str:
        return _("Recipient: %(recipient)s") % {"recipient": target.recipient}

    def help(self, target: Notice) -> str:
        entry = next(
            (e for e in target.plan.body.get("notices", ()) if e["recipient"] == target.recipient),
            {},
        )
        lines = (
            [_(target.reason)] if target.status == NoticeStatus.UNRESOLVED and target.reason else []
        )
        if entry.get("occasional"):
            lines.append(
                _("The systems file says when it receives data: “%(text)s”")
                % {"text": entry["occasional"]}
            )
        return "\n".join(lines)


notice_decide_view = _NoticeDecidePage.view()
