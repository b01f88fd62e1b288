"""The access rules, in their one home (controllers.access), for each member of the cast."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from controllers import access
from controllers.models import Membership, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(cast):
    return get_user_model().objects.create_superuser("root", "root@example.org", "pw-2026-x")


def test_roles_per_controller(cast, root):
    assert access.roles(cast.officer_a) == {cast.a.pk: Role.OFFICER}
    assert access.roles(cast.auditor_a) == {cast.a.pk: Role.AUDITOR}
    assert access.roles(cast.staff_without_membership) == {}
    assert access.roles(AnonymousUser()) == {}
    everything = access.roles(root)
    assert set(everything) == set(access.visible_controllers(root).values_list("pk", flat=True))
    assert set(everything.values()) == {Role.AUDITOR}  # an administrator only reads


def test_only_an_active_staff_officer_acts(cast, root):
    assert access.is_officer(cast.officer_a, cast.a)
    assert access.is_officer(cast.officer_a, cast.a.pk)
    assert not access.is_officer(cast.officer_a, cast.b)
    assert not access.is_officer(cast.auditor_a, cast.a)
    assert not access.is_officer(root, cast.a)  # superuser, but no officer membership
    assert not access.is_officer(None, cast.a)
    cast.officer_a.is_staff = False
    assert not access.is_officer(cast.officer_a, cast.a)
    cast.officer_a.is_staff, cast.officer_a.is_active = True, False
    assert not access.is_officer(cast.officer_a, cast.a)
    assert access.roles(cast.officer_a) == {}


def test_visible_and_officer_controllers(cast, root):
    assert list(access.visible_controllers(cast.auditor_a)) == [cast.a]
    assert list(access.officer_controllers(cast.auditor_a)) == []
    assert list(access.officer_controllers(cast.officer_b)) == [cast.b]
    assert not access.visible_controllers(cast.staff_without_membership).exists()
    assert access.is_administrator(root) and not access.is_administrator(cast.officer_a)


def test_cases_of_several_controllers_go_only_to_an_officer_of_all_of_them(cast):
    both = get_user_model().objects.create_user("both", is_staff=True)
    Membership.objects.create(user=both, controller=cast.a, role=Role.OFFICER)
    Membership.objects.create(user=both, controller=cast.b, role=Role.OFFICER)
    assert set(access.officers_of_all({cast.a.pk})) == {cast.officer_a, both}
    assert list(access.officers_of_all({cast.a.pk, cast.b.pk})) == [both]


def test_reminders_go_to_the_assignee_or_every_active_officer_and_the_dpo_when_overdue(cast):
    cast.officer_a.email = "a@example.org"
    cast.officer_a.save()
    colleague = get_user_model().objects.create_user(
        "colleague", email="c@example.org", is_staff=True
    )
    gone = get_user_model().objects.create_user(
        "gone", email="gone@example.org", is_staff=True, is_active=False
    )
    for user in (colleague, gone):
        Membership.objects.create(user=user, controller=cast.a, role=Role.OFFICER)
    assert access.reminder_addresses(cast.a) == ["a@example.org", "c@example.org"]
    assert access.reminder_addresses(cast.a, assignee=colleague) == ["c@example.org"]
    cast.a.dpo_email = "dpo@example.org"
    assert access.reminder_addresses(cast.a, assignee=colleague, overdue=True) == [
        "c@example.org",
        "dpo@example.org",
    ]
