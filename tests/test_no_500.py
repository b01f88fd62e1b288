"""No URL answers 500, whatever comes in: every parameter is checked before it reaches the
database, and a NUL byte (which PostgreSQL refuses in text) never gets that far.

CI runs this on PostgreSQL, where an unchecked NUL or an id out of range turns into a 500.
"""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from cases.links import confirmation_token, status_path

pytestmark = pytest.mark.django_db

HOSTILE = [
    "abc",
    "-1",
    "0",
    "99999999999999999999999",
    "1\x00",
    "\x00",
    "1 OR 1=1",
    "'\"<script>",
    "%00",
    "\u202e",
    "x" * 3000,
    "²",  # str.isdigit() says yes, int() says no
    "١٢",  # Arabic-Indic digits: int() reads them as 12
    "1_000",
    " 7 ",
    "9223372036854775808",  # one beyond PostgreSQL's bigint
]
QUEUE_PARAMS = [
    "controller",
    "state",
    "due",
    "assigned",
    "right__exact",
    "channel__exact",
    "q",
    "o",
    "p",
    "e",
]
ROLES = ["officer_a", "auditor_a", "anonymous"]


def login(client, cast, role):
    client.raise_request_exception = False
    if role != "anonymous":
        client.force_login(getattr(cast, role))


@pytest.mark.parametrize("role", ROLES)
def test_the_queue_s_parameters(cast, submit, client, role):
    submit(cast.a)
    login(client, cast, role)
    url = reverse("admin:dsar_case_changelist")
    for name, value in itertools.product(QUEUE_PARAMS, HOSTILE):
        response = client.get(url, {name: value})
        assert response.status_code < 500, (name, value, response.status_code)
        if "\x00" in value:
            assert response.status_code == 400


@pytest.mark.parametrize("role", ROLES)
def test_the_queue_s_actions(cast, submit, client, role):
    case = submit(cast.a)
    login(client, cast, role)
    url = reverse("admin:dsar_case_changelist")
    for action, value in itertools.product(
        ["assign_to_me", "assign_to_someone", "bulk_refuse", "delete_selected", "nope"], HOSTILE
    ):
        for selected in ([value], [str(case.pk), value]):
            response = client.post(
                url,
                {"action": action, "_selected_action": selected, "index": value, "apply": "1"},
            )
            assert response.status_code < 500, (action, value, response.status_code)


def test_a_selection_with_one_bad_id_does_nothing_at_all(cast, submit, client):
    case = submit(cast.a)
    login(client, cast, "officer_a")
    response = client.post(
        reverse("admin:dsar_case_changelist"),
        {"action": "assign_to_me", "_selected_action": [str(case.pk), "abc"]},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.assigned_to is None


@pytest.mark.parametrize("role", ROLES)
def test_the_case_s_urls(cast, submit, client, role):
    case = submit(cast.a)
    login(client, cast, role)
    for value in HOSTILE:
        for url in (
            f"/admin/dsar/case/{value}/change/",
            f"/admin/dsar/case/{value}/history/",
            f"/admin/dsar/case/{case.pk}/step/{value}/",
            f"/admin/dsar/case/{value}/step/message/",
            f"/admin/dsar/case/{case.pk}/document/{value}/",
            f"/admin/dsar/request/{value}/change/",
        ):
            for method in ("get", "post"):
                response = getattr(client, method)(url, {"message": value, "reason": value})
                assert response.status_code < 500, (method, url, response.status_code)


def test_the_public_urls(cast, submit, client):
    case = submit(cast.a)
    client.raise_request_exception = False
    token = status_path(case).rstrip("/").rsplit("/", 1)[1]
    for value in HOSTILE:
        for url in (
            f"/s/{value}/{token}/",
            f"/s/{case.reference}/{value}/",
            f"/confirm/{value}/",
            f"/c/{value}/",
            f"/c/smart-site/request/?right={value}",
            f"/c/{value}/sent/",
            f"/anymail/{value}/inbound/",
            f"/anymail/postmark/{value}",
        ):
            for method in ("get", "post"):
                response = getattr(client, method)(url, {"action": value, "right": value})
                assert response.status_code < 500, (method, url, response.status_code)
        response = client.post(reverse("set_language"), {"language": value, "next": value})
        assert response.status_code < 500
        response = client.post(status_path(case), {"action": "answer", "answer-answer": value})
        assert response.status_code < 500
    response = client.get(reverse("confirm", args=[confirmation_token(case) + "\x00"]))
    assert response.status_code == 400


def test_a_nul_in_a_cookie_or_header_is_refused_before_the_session_is_read(client):
    client.raise_request_exception = False
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get("/admin/").status_code == 400
    client.cookies.clear()
    assert client.get("/", HTTP_USER_AGENT="x\x00y").status_code == 400
    assert client.get("/").status_code == 200
