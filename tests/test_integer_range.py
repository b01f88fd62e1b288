"""An integer the database cannot hold never reaches it: every lookup on an integer column or
through a relation answers as the value deserves (it matches no row) on SQLite and PostgreSQL
alike, so no URL, filter or form answers 500 to an id of 2**63 or more.

CI runs this on PostgreSQL; ``make test`` on SQLite, whose driver raises OverflowError.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from cases.models import Case
from controllers.lookups import integer_bounds
from controllers.models import Controller

pytestmark = pytest.mark.django_db

BIGINT = 2**63 - 1
BEYOND = ["9223372036854775808", "99999999999999999999", "18446744073709551616"]
BELOW = "-9223372036854775809"


def test_an_in_list_drops_only_what_no_row_can_hold(cast, submit):
    case = submit(cast.a)
    assert list(Case.objects.filter(pk__in=[case.pk, 2**63, -(2**63) - 1])) == [case]
    assert list(Case.objects.filter(pk__in=[2**63, 10**20])) == []
    assert list(Case.objects.filter(pk__in=[str(case.pk), "99999999999999999999"])) == [case]
    assert list(Case.objects.exclude(pk__in=[2**63])) == [case]


def test_a_lookup_through_a_relation_is_bounded_like_the_column(cast, submit):
    case = submit(cast.a)
    for lookup in ("controller", "controller_id", "controller__id", "controller__pk"):
        assert not Case.objects.filter(**{lookup: 2**63}).exists(), lookup
        assert not Case.objects.filter(**{f"{lookup}__in": [2**64]}).exists(), lookup
        assert Case.objects.filter(**{f"{lookup}__in": [2**64, cast.a.pk]}).get() == case
    # Beyond the top, "less than" holds for every row and "greater than" for none; below the
    # bottom, the other way round.
    assert Case.objects.filter(controller__lt=2**63).get() == case
    assert Case.objects.filter(controller__lte=2**63).get() == case
    assert not Case.objects.filter(controller__gt=2**63).exists()
    assert not Case.objects.filter(controller__gte=2**63).exists()
    assert Case.objects.filter(controller__gt=-(2**63) - 1).get() == case
    assert Case.objects.filter(controller__gte=-(2**63) - 1).get() == case
    assert not Case.objects.filter(controller__lt=-(2**63) - 1).exists()


def test_a_range_is_clamped_to_the_column(cast, submit):
    case = submit(cast.a)
    assert Case.objects.filter(pk__range=(-(2**70), 2**70)).get() == case
    assert Case.objects.filter(pk__range=(case.pk, 2**64)).get() == case
    assert not Case.objects.filter(pk__range=(2**63, 2**64)).exists()
    assert not Case.objects.filter(pk__range=(-(2**65), -(2**64))).exists()


def test_the_bounds_are_the_column_s_on_this_database():
    field = Controller._meta.get_field("id")
    low, high = integer_bounds(field, connection)
    assert (low, high) == connection.ops.integer_field_range(field.get_internal_type())
    # A relation is bounded by the column it points at; a text column is not bounded.
    assert integer_bounds(Case._meta.get_field("controller"), connection) == (low, high)
    assert integer_bounds(Case._meta.get_field("email"), connection) == (None, None)
    # An id Django itself could hold in a 32-bit column is dropped where the column is 32-bit.
    if high is not None and high < BIGINT:
        assert not Controller.objects.filter(pk__in=[high + 1]).exists()


# One test a role: the walks below make thousands of requests, and split this way they run
# on several workers at once instead of one test holding a worker for a minute or more.
ROLES = ["superuser", "officer", "auditor"]


def _user(cast, role: str):
    if role == "superuser":
        return get_user_model().objects.create_superuser("root", password="pw-for-tests-2026")
    return {"officer": cast.officer_a, "auditor": cast.auditor_a}[role]


def _integer_parameters(model) -> list[str]:
    """Every query-string lookup the admin builds on an integer column or a relation."""
    names = ["pk__in", "id__in", "id__exact", "id__range"]
    for field in model._meta.concrete_fields:
        if integer_bounds(field, connection) == (None, None):
            continue
        names += [field.name, f"{field.name}__in", f"{field.name}__gte", f"{field.name}__lt"]
        if field.is_relation:
            names += [f"{field.name}__id__in", f"{field.attname}__in", f"{field.name}__pk"]
    return sorted(set(names))


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_changelist_answers_out_of_range_ids_without_a_500(cast, submit, client, role):
    submit(cast.a)
    client.raise_request_exception = False
    client.force_login(_user(cast, role))
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for name in _integer_parameters(model):
            for value in [*BEYOND, BELOW, f"1,{BEYOND[0]}", f"{BELOW},{BEYOND[1]}"]:
                response = client.get(url, {name: value, "state": "all"})
                assert response.status_code < 500, (role, url, name, value)
                if response.status_code == 200 and "__in" in name and "," not in value:
                    # Accepted: an id no row can hold lists nothing.
                    assert not response.context["cl"].result_count, (role, url, name)


def _period(**extra) -> dict[str, str]:
    return {"start": "2026-01-01", "end": str(date.today()), "language": "en", **extra}


REPORT_URLS = [
    "/admin/reports/",
    "/admin/reports/compliance.pdf",
    "/admin/reports/figures.csv",
    "/admin/reports/requests.csv",
]


def test_every_report_url_refuses_an_out_of_range_controller_with_a_4xx(cast, client):
    client.raise_request_exception = False
    for role in ("officer_a", "auditor_a"):
        client.force_login(getattr(cast, role))
        for value in [*BEYOND, BELOW]:
            for chosen in ([value], [str(cast.a.pk), value]):
                for url in REPORT_URLS:
                    response = client.get(url, _period(controllers=chosen))
                    assert 400 <= response.status_code < 500, (role, url, value)
                response = client.post("/admin/reports/archive/", _period(controllers=chosen))
                assert response.status_code == 400, (role, value)
        # The same form with the user's own controller works: the refusal was the value's.
        assert client.get(REPORT_URLS[2], _period(controllers=[cast.a.pk])).status_code == 200
    from reports.models import Archive

    assert not Archive.objects.exists()


def _routes(patterns=None, prefix: str = ""):
    """Every route of the project with a converter in it, as one string (admin included)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if "(?P<" in route or route.startswith("^"):
                continue  # a regular expression prefix (the legacy redirect, webhooks)
            yield from _routes(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern) and "<" in route and not route.startswith("^"):
            yield prefix + route


@pytest.mark.parametrize("role", ROLES)
def test_every_url_with_an_id_in_its_path_answers_an_out_of_range_id_without_a_500(
    cast, submit, client, role
):
    case = submit(cast.a)
    client.raise_request_exception = False
    routes = list(_routes())
    assert any("<int:" in route for route in routes)  # the walk found the project's own
    client.force_login(_user(cast, role))
    for route in routes:
        slots = re.findall(r"<(?:\w+:)?\w+>", route)
        for hostile in range(len(slots)):
            for value in BEYOND:
                # One slot out of range, the others an id that exists.
                url = "/" + route
                for n, slot in enumerate(slots):
                    url = url.replace(slot, value if n == hostile else str(case.pk), 1)
                for method in ("get", "post"):
                    response = getattr(client, method)(url)
                    assert response.status_code < 500, (role, method, url)


@pytest.mark.parametrize("port", ["9" * 20, "65536", "0", "-1", "８０"])
def test_a_command_refuses_a_port_out_of_range_with_its_usage(port):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="is not a port"):
        call_command("demo_processor", "--port", port)
