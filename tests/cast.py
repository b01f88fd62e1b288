"""The named cast reused across tests (healthchecks style)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from controllers.models import Controller, Membership, Role


@dataclass
class Cast:
    officer_a: object
    officer_b: object
    auditor_a: object
    staff_without_membership: object
    a: Controller
    b: Controller


def make_cast(controllers: dict[str, Controller], a: str = "smart-site", b: str = "defero") -> Cast:
    User = get_user_model()

    def staff(username: str):
        return User.objects.create_user(username, password="pw-for-tests-2026", is_staff=True)

    cast = Cast(
        officer_a=staff("officer_a"),
        officer_b=staff("officer_b"),
        auditor_a=staff("auditor_a"),
        staff_without_membership=staff("staff"),
        a=controllers[a],
        b=controllers[b],
    )
    Membership.objects.create(user=cast.officer_a, controller=cast.a, role=Role.OFFICER)
    Membership.objects.create(user=cast.officer_b, controller=cast.b, role=Role.OFFICER)
    Membership.objects.create(user=cast.auditor_a, controller=cast.a, role=Role.AUDITOR)
    return cast
