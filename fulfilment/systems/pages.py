"""What the officer's pages of both rooms share: the case in the user's scope, the way back to
the case file, a page in the admin's frame, and the form that takes a reason.

Every page checks, through ``controllers.access``, that the case is in the user's scope; every
action, that the user is an officer of its controller (``case(..., act=True)``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy

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


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (kept in the record)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        validators=[multi_line],
    )
