"""What the officer's pages of both rooms share: the case in the user's scope, the way back to
the case file, a page in the admin's frame, the form that takes a reason, and the two shapes of
a page that acts: a button (``button``) and a form handed to a service (``FormPage``).

Every page checks, through ``controllers.access``, that the case is in the user's scope; every
action, that the user is an officer of its controller (``case(..., act=True)``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy

from cases.actors import Actor
from cases.models import Case
from controllers import access
from controllers.validators import multi_line


def case(request: HttpRequest, pk: int, *, act: bool = False) -> Case:
    """The case ``pk`` if it is in the user's scope (else 404); with ``act``, only for an
    officer of its controller (else 403)."""
    found = Case.objects.select_related("controller").filter(pk=pk).first()
    if found is None or found.controller_id not in access.roles(request.user):
        raise Http404
    if act and not access.is_officer(request.user, found.controller):
        raise PermissionDenied
    return found


def back(case: Case) -> HttpResponse:
    """Back to the case file, where both rooms' panels stand."""
    return redirect("admin:dsar_case_change", case.pk)


def page(
    request: HttpRequest, template: str, *, status: int = 200, **context: Any
) -> TemplateResponse:
    """One of fulfilment's officer pages (``fulfilment/admin/<template>``) in the admin's frame."""
    return TemplateResponse(
        request,
        f"fulfilment/admin/{template}",
        {**admin.site.each_context(request), **context},
        status=status,
    )


def record_text(label: Any, *, required: bool = True) -> forms.CharField:
    """A few lines the officer writes for the record (a reason, a note, an answer)."""
    return forms.CharField(
        label=label,
        required=required,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        validators=[multi_line],
    )


class ReasonForm(forms.Form):
    reason = record_text(gettext_lazy("Reason (kept in the record)"))


def button(request: HttpRequest, case: Case, act: Callable[[], str]) -> HttpResponse:
    """A button on the case file (its POST): ``act`` calls a service and says what it did;
    a ValidationError it raises is said instead. Either way, back to the case file."""
    if request.method == "POST":
        try:
            messages.success(request, act())
        except ValidationError as error:
            messages.error(request, error.messages[0])
    return back(case)


Target = TypeVar("Target")


class FormPage(ABC, Generic[Target]):
    """An officer's page that hands a form to a service, declared by its form (``form_class``,
    ``form_kwargs``), what it acts on (``target``, which checks the officer's scope and role),
    the service (``act``) and its words (``title``, ``help``). On a valid POST the service is
    called; a ValidationError it raises shows on the form (400), else back to the case file.
    ``view()`` is the page's view: ``(request, pk)``, one instance a request."""

    form_class: ClassVar[type[forms.Form]] = ReasonForm
    multipart: ClassVar[bool] = False

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.actor = Actor.officer(request.user)

    @abstractmethod
    def target(self, pk: int) -> Target:
        """What the page acts on, for an officer of its case's controller (404/403 otherwise)."""

    @abstractmethod
    def act(self, target: Target, data: dict[str, Any]) -> None:
        """Call the service with the form's cleaned data, as ``self.actor``."""

    @abstractmethod
    def title(self, target: Target) -> str:
        """The page's title (and its breadcrumb)."""

    def help(self, target: Target) -> str:
        return ""

    def form_kwargs(self, target: Target) -> dict[str, Any]:
        return {}

    def case_of(self, target: Target) -> Case:
        return target if isinstance(target, Case) else target.case  # type: ignore[attr-defined]

    def respond(self, pk: int) -> HttpResponse:
        request = self.request
        target = self.target(pk)
        case = self.case_of(target)
        form = self.form_class(
            request.POST or None, request.FILES or None, **self.form_kwargs(target)
        )
        if request.method == "POST" and form.is_valid():
            try:
                self.act(target, form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return back(case)
        return page(
            request,
            "form.html",
            title=self.title(target),
            case=case,
            form=form,
            help=self.help(target),
            multipart=self.multipart,
            status=400 if request.method == "POST" else 200,
        )

    @classmethod
    def view(cls) -> Callable[[HttpRequest, int], HttpResponse]:
        def view(request: HttpRequest, pk: int) -> HttpResponse:
            return cls(request).respond(pk)

        view.__doc__ = cls.__doc__
        return view
