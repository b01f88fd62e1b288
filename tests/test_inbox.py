"""Incoming mail that became no request is seen by the officers it was addressed to, and by
nobody else; the page only reads."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from cases.models import InboundMail
from mailin.ingest import ingest

pytestmark = pytest.mark.django_db


def arrive(to: str, sender: str = "", subject: str = "Verzoek", message_id: str = "<m1@x>"):
    headers = f"To: {to}\nSubject: {subject}\nMessage-ID: {message_id}\n"
    if sender:
        headers += f"From: {sender}\n"
    return ingest(f"{headers}\nIk wil mijn gegevens zien.\n".encode())


@pytest.fixture
def rejected(cast, committed):
    # No From header: nobody to send a confirmation link to, so no request.
    record = committed(arrive, "info@smart-site.nl", subject="<script>alert(1)</script>")
    assert record.outcome == "rejected" and record.controller == cast.a
    return record


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.org", "pw-2026-root")


def test_the_controller_s_officers_and_auditors_see_a_rejected_message(cast, client, rejected):
    for user in (cast.officer_a, cast.auditor_a):
        client.force_login(user)
        listing = client.get(reverse("admin:dsar_inboundmail_changelist")).content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing and "<script>alert" not in listing
        assert "no single, well-formed sender" in listing
        detail = client.get(reverse("admin:dsar_inboundmail_change", args=[rejected.pk]))
        assert detail.status_code == 200
        original = client.get(reverse("admin:dsar_inboundmail_original", args=[rejected.pk]))
        assert original.status_code == 200 and original.content == bytes(rejected.raw)
        assert original["Content-Disposition"].startswith("attachment;")


def test_other_controllers_officers_see_nothing_of_it(cast, client, rejected):
    for user in (cast.officer_b, cast.staff_without_membership):
        client.force_login(user)
        listing = client.get(reverse("admin:dsar_inboundmail_changelist"))
        assert rejected.subject not in listing.content.decode()
        detail = client.get(reverse("admin:dsar_inboundmail_change", args=[rejected.pk]))
        assert detail.status_code in (302, 403, 404)
        original = client.get(reverse("admin:dsar_inboundmail_original", args=[rejected.pk]))
        assert original.status_code in (302, 403)
        assert original.content != bytes(rejected.raw)


def test_unrouted_mail_is_for_administrators_only(cast, client, committed, superuser):
    record = committed(arrive, "someone@else.example", sender="jan@example.org")
    assert record.outcome == "unrouted" and record.controller is None
    client.force_login(cast.officer_a)
    assert client.get(reverse("admin:dsar_inboundmail_change", args=[record.pk])).status_code in (
        302,
        403,
        404,
    )
    client.force_login(superuser)
    assert client.get(reverse("admin:dsar_inboundmail_change", args=[record.pk])).status_code == 200


def test_the_page_only_reads(cast, client, rejected):
    client.force_login(cast.officer_a)
    change = reverse("admin:dsar_inboundmail_change", args=[rejected.pk])
    client.post(change, {"outcome": "reply", "problem": ""})
    client.post(reverse("admin:dsar_inboundmail_delete", args=[rejected.pk]), {"post": "yes"})
    assert client.get(reverse("admin:dsar_inboundmail_add")).status_code == 403
    rejected.refresh_from_db()
    assert rejected.outcome == "rejected" and InboundMail.objects.count() == 1


def test_the_home_page_counts_what_needs_a_look(cast, client, rejected):
    client.force_login(cast.officer_a)
    home = client.get(reverse("admin:index")).content.decode()
    assert "1 bericht aan een privacyadres werd geen verzoek" in home  # Dutch by default
    assert f"{reverse('admin:dsar_inboundmail_changelist')}?attention=yes" in home
    client.force_login(cast.officer_b)
    home = client.get(reverse("admin:index")).content.decode()
    assert "attention=yes" not in home


def test_a_reply_is_listed_with_its_request(cast, submit, client, committed):
    case = submit(cast.a, email="jan@example.org")
    record = committed(
        arrive,
        "info@smart-site.nl",
        sender="jan@example.org",
        subject=f"Re: {case.reference}",
        message_id="<r@x>",
    )
    assert record.outcome == "reply" and record.controller == cast.a
    client.force_login(cast.officer_a)
    listing = client.get(reverse("admin:dsar_inboundmail_changelist")).content.decode()
    assert reverse("admin:dsar_case_change", args=[case.pk]) in listing


def test_no_parameter_gives_a_500(cast, client, rejected):
    import itertools

    from .test_no_500 import HOSTILE

    client.raise_request_exception = False
    client.force_login(cast.officer_a)
    url = reverse("admin:dsar_inboundmail_changelist")
    names = ["attention", "outcome__exact", "controller", "q", "o", "p"]
    for name, value in itertools.product(names, HOSTILE):
        response = client.get(url, {name: value})
        assert response.status_code < 500, (name, value, response.status_code)
    for value in ("99999999999999999999999", "9223372036854775808", "0"):
        response = client.get(f"/admin/dsar/inboundmail/{value}/original/")
        assert response.status_code == 404, value
