"""The officer's side of fulfilment, in the admin: a panel on the case file with the search of
each system (updated in place while searches run), and the pages to act on them.

Every page checks, through ``controllers.access``, that the case is in the user's scope; every
action, that the user is an officer of its controller. Auditors see the panel, never the data.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.actors import Actor
from cases.audit import note
from cases.models import Case, State
from controllers import access
from controllers.models import Right
from controllers.systems import spec_of
from controllers.validators import database_id, multi_line, single_line

from ..models import Package, PackageStatus, Search, Withholding
from ..systems import pages
from ..systems.vault import VaultError
from . import collect
from .package import end, opened, package_of
from .staging import parse_row, text_of

# Rows a review page shows at once.
PAGE = 50


def _search(request: HttpRequest, pk: int, *, act: bool = False) -> Search:
    found = Search.objects.select_related("case", "system").filter(pk=pk).first()
    if found is None:
        raise Http404
    pages.case(request, found.case_id, act=act)
    return found


def _progress(case: Case) -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            "id": c.pk,
            "title": c.system_title,
            "kind": c.get_kind_display(),
            "status": c.status,
            "status_label": str(c.get_status_display()),
            "remote": c.remote_label,
            "rows": c.rows,
            "counts": c.counts,
            "files": c.file_count,
            "warnings": c.warnings,
            "error": c.error,
            "attempts": c.attempts,
            "next": (
                timezone.localtime(c.next_attempt_at).strftime("%d-%m %H:%M")
                if c.next_attempt_at and c.next_attempt_at > now
                else ""
            ),
            "settled": c.settled,
        }
        for c in case.searches.all()
    ]


def officer_panel(case: Case, request: HttpRequest) -> str:
    if not case.searches.exists() and not case.packages.exists():
        return ""
    officer = access.is_officer(request.user, case.controller)
    letter_gaps = None
    settled = all(c.settled for c in case.searches.all())
    if case.right == Right.ACCESS and case.state == State.IN_PROGRESS and settled:
        from .letter import gaps

        # What the letter still needs from the officer, once every search has settled.
        letter_gaps = len(gaps(case))
    return render_to_string(
        "fulfilment/admin/panel.html",
        {
            "letter_gaps": letter_gaps,
            "case": case,
            "searches": case.searches.all(),
            "progress": _progress(case),
            "package": package_of(case),
            "withholdings": case.withholdings.all(),
            "officer": officer,
            "open": case.is_open,
            "reviewing": case.state == State.IN_PROGRESS,
        },
        request=request,
    )


def _moving(change: Any) -> bool:
    """A change a worker is on or will be within the minute (a lifting that waits out its
    notice period, a manual task or a failure is not worth polling for)."""
    if change.status in ("running", "remote"):
        return True
    soon = timezone.now() + dt.timedelta(minutes=1)
    return change.status == "pending" and (
        change.next_attempt_at is None or change.next_attempt_at <= soon
    )


def progress_view(request: HttpRequest, pk: int) -> JsonResponse:
    case = pages.case(request, pk)
    package = package_of(case)
    changes = list(case.changes.all())
    return JsonResponse(
        {
            "searches": _progress(case),
            "changes": [
                {
                    "id": e.pk,
                    "status": e.status,
                    "status_label": str(e.get_status_display()),
                    # Once done, the change's evidence says what the processor reported.
                    "remote": "" if e.status == "done" else e.remote_label,
                    "error": e.error,
                }
                for e in changes
            ],
            "package": package.status if package else "",
            "settled": all(c.settled for c in case.searches.all())
            and not any(_moving(e) for e in changes),
        }
    )


def retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    search = _search(request, pk, act=True)

    def retry() -> str:
        collect.retry(search, actor=Actor.officer(request.user))
        return _("%(system)s: searching again.") % {"system": search.system_title}

    return pages.button(request, search.case, retry)


class _SkipPage(pages.FormPage[Search]):
    def target(self, pk: int) -> Search:
        return _search(self.request, pk, act=True)

    def act(self, target: Search, data: dict[str, Any]) -> None:
        collect.skip(target, actor=self.actor, reason=data["reason"])

    def title(self, target: Search) -> str:
        return _("Skip %(system)s") % {"system": target.system_title}

    def help(self, target: Search) -> str:
        return _("The response goes ahead without this system. Say why: it goes into the record.")


skip_view = _SkipPage.view()


class AnswerForm(forms.Form):
    found = forms.ChoiceField(
        label=gettext_lazy("What the search found"),
        choices=[
            ("nothing", gettext_lazy("Searched: nothing about this person")),
            ("file", gettext_lazy("Found: the export file is attached")),
        ],
        widget=forms.RadioSelect,
    )
    export = forms.FileField(label=gettext_lazy("Export file"), required=False)
    note = pages.record_text(
        gettext_lazy("Note (who searched where; kept in the record)"), required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("found") == "file" and not data.get("export"):
            self.add_error("export", _("Attach the export file."))
        if data.get("found") == "nothing" and data.get("export"):
            self.add_error("export", _("Nothing was found: attach no file."))
        return data


class _AnswerPage(pages.FormPage[Search]):
    """The officer's answer to a search made by hand (a manual system, or one that failed)."""

    form_class = AnswerForm
    multipart = True

    def target(self, pk: int) -> Search:
        return _search(self.request, pk, act=True)

    def act(self, target: Search, data: dict[str, Any]) -> None:
        upload = data.get("export")
        collect.answer_manually(
            target,
            actor=self.actor,
            found=data["found"] == "file",
            note_text=data["note"],
            file_name=upload.name if upload else "",
            chunks=upload.chunks() if upload else None,
        )

    def title(self, target: Search) -> str:
        return _("Answer the search of %(system)s") % {"system": target.system_title}

    def help(self, target: Search) -> str:
        spec = spec_of(target.system.spec) if target.system else None
        return spec.instructions if spec else ""


answer_view = _AnswerPage.view()


def _gone(request: HttpRequest, case: Case, title: str, why: str) -> TemplateResponse:
    """A page whose data no longer exists (410): said plainly, with the way back."""
    return pages.page(request, "gone.html", title=title, case=case, why=why, status=410)


def _search_gone(request: HttpRequest, search: Search) -> TemplateResponse:
    return _gone(
        request,
        search.case,
        search.system_title,
        _(
            "What this search found is no longer kept: the copy of a search is deleted once "
            "the request has ended (%(state)s). Its counts stay in the case file and the "
            "record; the subject's package, if one was sent, holds what they received."
        )
        % {"state": search.case.get_state_display()},
    )


def table_view(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    """What one search found in one table, page by page, with what may be withheld. Once the
    request has ended its copy is deleted (``collect.discard_staging``): a tab opened before
    gets a page that says so (410), never an error."""
    search = _search(request, pk, act=True)
    spec = spec_of(search.system.spec) if search.system else None
    declared = next((t for t in spec.tables if t.name == table), None) if spec else None
    if declared is None or table not in search.counts:
        raise Http404
    if not search.case.is_open:
        return _search_gone(request, search)
    stage = collect.reader(search)
    if stage is None:
        raise Http404
    # Clamped first: a page past the end would decrypt the whole table to show nothing.
    paged = Paginator(range(search.counts[table]), PAGE).get_page(
        database_id(request.GET.get("page", "1")) or 1
    )
    number = paged.number
    first = (number - 1) * PAGE
    rows = []
    # Each value as the package's CSV and index.html show it (its exact text); only the page's
    # lines are parsed.
    try:
        lines = list(itertools.islice(stage.lines(table), first, first + PAGE))
    except VaultError:
        # Deleted meanwhile (the request ended while this page was asked for).
        search.case.refresh_from_db(fields=["state"])
        if search.case.is_open:
            raise  # still open: the copy is damaged, a fault to see
        return _search_gone(request, search)
    for line in lines:
        row = parse_row(line)
        rows.append(
            (text_of(row.get(declared.key)), [text_of(row.get(c.name)) for c in declared.columns])
        )
    return pages.page(
        request,
        "table.html",
        title=f"{search.system_title} — {declared.label}",
        case=search.case,
        search=search,
        table=declared,
        rows=rows,
        pages=paged,
        withholdings=search.case.withholdings.filter(system_name=search.system_name, table=table),
        reviewing=search.case.state == State.IN_PROGRESS,
        form=WithholdForm(),
    )


class WithholdForm(forms.Form):
    record = forms.CharField(required=False, max_length=200, validators=[single_line])
    column = forms.CharField(required=False, max_length=63, validators=[single_line])
    reason = forms.CharField(
        label=gettext_lazy("Why it is withheld (e.g. another person's data, Art. 15(4))"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
    )


def withhold_view(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    search = _search(request, pk, act=True)
    spec = spec_of(search.system.spec) if search.system else None
    declared = next((t for t in spec.tables if t.name == table), None) if spec else None
    if declared is None or request.method != "POST":
        raise Http404
    form = WithholdForm(request.POST)
    back = redirect("fulfilment_table", search.pk, table)
    if not form.is_valid():
        messages.error(request, _("Give a reason; the record and field must be one line."))
        return back
    case = search.case
    if not case.is_open:
        messages.error(request, _("The request has ended: nothing more can be withheld."))
        return pages.back(case)
    data = form.cleaned_data
    if data["column"] and data["column"] not in {c.name for c in declared.columns}:
        messages.error(request, _("No such field."))
        return back
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.state != State.IN_PROGRESS:
            messages.error(request, _("Reopen the response to change what is withheld."))
            return back
        now = timezone.now()
        Withholding.objects.create(
            case=locked,
            system_name=search.system_name,
            table=table,
            record=data["record"],
            column=data["column"],
            reason=data["reason"],
            by=request.user,
            at=now,
        )
        note(
            locked,
            actor=Actor.officer(request.user),
            action="withheld",
            at=now,
            data={
                "system": search.system_title,
                "table": declared.label,
                "record": data["record"],
                "column": data["column"],
                "reason": data["reason"],
            },
        )
    messages.success(request, _("Withheld. It will not be in the package."))
    return back


def package_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The package as the subject gets it, for the officer to check before release."""
    package = Package.objects.select_related("case").filter(pk=pk).first()
    if package is None:
        raise Http404
    pages.case(request, package.case_id, act=True)
    if package.status not in (PackageStatus.READY, PackageStatus.RELEASED):
        raise Http404
    chunks = opened(package)
    if chunks is None:
        # Its link was withdrawn or expired since the page was loaded: the file is deleted.
        return _gone(
            request,
            package.case,
            _("Data package"),
            _(
                "This package is no longer kept: its file was deleted when its link was "
                "withdrawn or expired."
            ),
        )
    # Someone read the subject's whole data: the record says who and when.
    note(
        package.case,
        actor=Actor.officer(request.user),
        action="package_viewed",
        at=timezone.now(),
        data={"sha256": package.sha256},
    )
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Length"] = str(package.size)
    response["Content-Disposition"] = (
        f'attachment; filename="{package.case.reference}-{package.kind}.zip"'
    )
    response["Cache-Control"] = "no-store"
    return response


class _RevokePage(pages.FormPage[Package]):
    def target(self, pk: int) -> Package:
        package = Package.objects.select_related("case").filter(pk=pk).first()
        if package is None:
            raise Http404
        pages.case(self.request, package.case_id, act=True)
        return package

    def act(self, target: Package, data: dict[str, Any]) -> None:
        if end(
            target,
            status=PackageStatus.REVOKED,
            actor=self.actor,
            now=timezone.now(),
            reason=data["reason"],
        ):
            messages.success(
                self.request, _("The download link was withdrawn and the package deleted.")
            )
        else:
            messages.error(self.request, _("This package is not available for download."))

    def title(self, target: Package) -> str:
        return _("Withdraw the download link")

    def help(self, target: Package) -> str:
        return _("The subject can no longer download the package; it is deleted.")


revoke_view = _RevokePage.view()


class LetterItemForm(forms.Form):
    """One item the access letter needs, as the officer supplies it (``letter.supply``)."""

    key = forms.CharField(widget=forms.HiddenInput, max_length=800, validators=[multi_line])
    none = forms.BooleanField(required=False)
    text = forms.CharField(
        label=gettext_lazy("What the letter says (in the letter's language)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )
    reuse = forms.BooleanField(
        label=gettext_lazy("Keep it for this controller's next requests in this language"),
        required=False,
        initial=True,
    )


def letter_items_view(request: HttpRequest, pk: int) -> HttpResponse:
    """What the access letter still needs from the officer (where the privacy statement and the
    registry are silent), one form an item, and what was supplied for this case."""
    from . import letter

    case = pages.case(request, pk, act=True)
    status = 200
    error_key, error = "", ""
    if request.method == "POST":
        form = LetterItemForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                letter.supply(
                    case,
                    data["key"],
                    actor=Actor.officer(request.user),
                    text=data["text"],
                    none=data["none"],
                    reuse=data["reuse"],
                )
            except ValidationError as problem:
                error_key, error, status = data["key"], problem.messages[0], 400
            else:
                messages.success(request, _("Supplied: the letter will say it."))
                return redirect("fulfilment_letter_items", case.pk)
        else:
            error_key = request.POST.get("key", "")
            error, status = " ".join(e for errs in form.errors.values() for e in errs), 400
    gaps = letter.gaps(case) if case.state == State.IN_PROGRESS else []
    return pages.page(
        request,
        "letter_items.html",
        title=_("Items the access letter needs"),
        case=case,
        gaps=gaps,
        error_key=error_key,
        error=error,
        supplied=case.letter_supplements.select_related("by").order_by("pk"),
        status=status,
    )
