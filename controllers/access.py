"""Who may see, act on, or be reminded about a controller's cases: the one home of access rules.

- An **officer** of a controller (an active staff user with an officer membership) acts on its
  cases and sees their ID copies.
- An **auditor** of a controller (auditor membership) sees the same cases read-only, never an ID
  copy.
- An **administrator** (an active staff superuser) sees every controller's cases read-only and
  manages the registry; acting on a case or opening an ID copy takes an officer membership of
  its controller, superuser or not.
- Nobody else sees anything: not an inactive user, not staff without a membership.
- **Reminders** about a case go to its assignee, or else to every officer of the controller who
  has an email address; an overdue one also to the controller's DPO.

The workflow, the admin, the reminders and the reports all ask here; none decides for itself.
Decisions that let someone act are made on fresh rows (``is_officer`` queries every time).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .models import Controller, Membership, Role


def _staff(user: Any) -> bool:
    return user is not None and user.is_authenticated and user.is_active and user.is_staff


def is_administrator(user: Any) -> bool:
    """Whether the user manages the registry: controllers, memberships, authorities."""
    return _staff(user) and user.is_superuser


def roles(user: Any) -> dict[int, str]:
    """The user's role per controller id: officer or auditor (an administrator is an auditor of
    every controller where no membership says more). Empty for anyone without access."""
    if not _staff(user):
        return {}
    found = dict(Membership.objects.filter(user=user).values_list("controller_id", "role"))
    if user.is_superuser:
        for pk in Controller.objects.values_list("pk", flat=True):
            found.setdefault(pk, Role.AUDITOR)
    return found


def is_officer(user: Any, controller: Controller | int) -> bool:
    """Whether the user may act on the controller's cases and see their ID copies."""
    if not _staff(user):
        return False
    controller_id = controller if isinstance(controller, int) else controller.pk
    return Membership.objects.filter(
        user=user, controller_id=controller_id, role=Role.OFFICER
    ).exists()


def visible_controllers(user: Any) -> QuerySet[Controller]:
    """The controllers whose cases and registry entry the user may see."""
    if not _staff(user):
        return Controller.objects.none()
    if user.is_superuser:
        return Controller.objects.all()
    return Controller.objects.filter(memberships__user=user).distinct()


def officer_controllers(user: Any) -> QuerySet[Controller]:
    """The controllers on whose cases the user may act (record a case, take a step)."""
    if not _staff(user):
        return Controller.objects.none()
    return Controller.objects.filter(
        memberships__user=user, memberships__role=Role.OFFICER
    ).distinct()


def officers_of_all(controller_ids: set[int]) -> QuerySet[Any]:
    """Active staff users who are officers of every one of these controllers: whom cases of
    all of them may be assigned to."""
    officers = get_user_model().objects.filter(is_active=True, is_staff=True)
    for controller_id in controller_ids:
        # One filter a controller: each joins its own membership row.
        officers = officers.filter(
            memberships__controller_id=controller_id, memberships__role=Role.OFFICER
        )
    return officers.distinct()


def reminder_addresses(
    controller: Controller, *, assignee: Any = None, overdue: bool = False
) -> list[str]:
    """Who is told about a case of this controller: its assignee, or else every officer with an
    address; when it is overdue, the controller's DPO as well."""
    if assignee is not None and assignee.email:
        addresses = [assignee.email]
    else:
        addresses = sorted(
            Membership.objects.filter(
                controller=controller,
                role=Role.OFFICER,
                user__is_active=True,
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    if overdue and controller.dpo_email:
        addresses.append(controller.dpo_email)
    return addresses
