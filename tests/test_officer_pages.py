"""The shape every officer page of fulfilment shares (``fulfilment.systems.pages``): what it acts
on is in the officer's scope (404 for another controller's officer) and acted on by its officers
only (403 for an auditor); a form page shows its form, refuses an invalid one (400) and shows on
the form why the service refused (400), then goes back to the case file; a button says what it
did, or why not, on the case file."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from controllers.models import Membership, Role
from fulfilment.models import ChangeStatus

from .demo_world import drive_to_work, officer_client
from .test_change_letters import approve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def restriction(world, committed):
    """Defero's restriction, its plan approved: a manual change waits for its owner."""
    case = drive_to_work(committed, world["controllers"]["defero"], world["officer"], "restriction")
    approve(committed, case, world["officer"])
    return case


def test_the_change_pages_are_scoped_and_read_only_for_auditors(
    world, restriction, django_user_model
):
    manual = restriction.changes.get(kind="manual")
    stranger = django_user_model.objects.create_user("stranger", password="x", is_staff=True)
    Membership.objects.create(
        user=stranger, controller=world["controllers"]["smart-site"], role=Role.OFFICER
    )
    urls = [
        ("post", reverse("fulfilment_plan", args=[restriction.pk])),
        ("get", reverse("fulfilment_correction", args=[restriction.pk])),
        ("get", reverse("fulfilment_change_confirm", args=[manual.pk])),
        ("post", reverse("fulfilment_change_retry", args=[manual.pk])),
        ("get", reverse("fulfilment_change_skip", args=[manual.pk])),
        ("post", reverse("fulfilment_change_skip", args=[manual.pk])),
    ]
    for notice in restriction.notices.all():
        urls.append(("get", reverse("fulfilment_notice_answer", args=[notice.pk])))
        urls.append(("get", reverse("fulfilment_notice_decide", args=[notice.pk])))
    for user, refused in ((world["auditor"], 403), (stranger, 404)):
        client = officer_client(user)
        for method, url in urls:
            assert getattr(client, method)(url).status_code == refused, (user, url)
    manual.refresh_from_db()
    assert manual.status == ChangeStatus.MANUAL


def test_a_form_page_shows_the_service_s_refusal_on_its_form(world, restriction, committed):
    manual = restriction.changes.get(kind="manual")
    url = reverse("fulfilment_change_skip", args=[manual.pk])
    client = officer_client(world["officer"])
    page = html.unescape(client.get(url).content.decode())
    assert f"Skip {manual.system_title}" in page
    assert "The system is left as it is." in page
    assert committed(client.post, url, {"reason": ""}).status_code == 400  # the form's
    manual.lease_until = timezone.now() + dt.timedelta(hours=1)  # a worker holds it
    manual.save(update_fields=["lease_until"])
    response = committed(client.post, url, {"reason": "Het archief is weg."})
    assert response.status_code == 400
    assert "The change is running in the system now" in html.unescape(response.content.decode())
    manual.refresh_from_db()
    assert manual.status == ChangeStatus.MANUAL
    manual.lease_until = None
    manual.save(update_fields=["lease_until"])
    response = committed(client.post, url, {"reason": "Het archief is weg."})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:dsar_case_change", args=[restriction.pk])
    manual.refresh_from_db()
    assert manual.status == ChangeStatus.SKIPPED


def test_a_button_says_on_the_case_file_why_it_did_nothing(world, restriction, committed):
    manual = restriction.changes.get(kind="manual")
    client = officer_client(world["officer"])
    url = reverse("fulfilment_change_retry", args=[manual.pk])
    assert client.get(url)["Location"] == reverse("admin:dsar_case_change", args=[restriction.pk])
    response = committed(client.post, url, follow=True)
    assert "Only a failed change can be tried again." in html.unescape(response.content.decode())
    manual.refresh_from_db()
    assert manual.status == ChangeStatus.MANUAL
