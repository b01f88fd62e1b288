"""What the user of one admin page may see and do, read once a page from controllers.access.

The admin asks the same questions many times while rendering one page (every permission method,
every filter); the user's roles are read once and kept on the HttpRequest.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from cases.models import Case
from controllers import access
from controllers.models import Role


def roles(request: HttpRequest) -> dict[int, str]:
    """The user's role per controller id, read once an HTTP request."""
    cached = getattr(request, "_dsar_roles", None)
    if cached is None:
        cached = access.roles(request.user)
        request._dsar_roles = cached  # type: ignore[attr-defined]
    return cached


def is_member(request: HttpRequest) -> bool:
    return bool(roles(request))


def is_officer_somewhere(request: HttpRequest) -> bool:
    return Role.OFFICER in roles(request).values()


def is_officer_of(request: HttpRequest, controller_id: int) -> bool:
    return roles(request).get(controller_id) == Role.OFFICER


def visible_cases(request: HttpRequest) -> QuerySet[Case]:
    cases = Case.objects.select_related("controller", "assigned_to")
    if access.is_administrator(request.user):
        # Every controller: no filter at all. Spelling out every id costs the queue a third of
        # its time on 100,000 cases (bench/queue.py), for the same rows.
        return cases
    return cases.filter(controller_id__in=list(roles(request)))
