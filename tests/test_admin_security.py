"""Login security of the admin: two factors, lockout, idle expiry, headers."""

from __future__ import annotations

import importlib

import pytest
import time_machine
from django.contrib import admin
from django.urls import clear_url_caches, reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"


@pytest.fixture
def two_factor(settings):
    """The production setting: the admin site requires a TOTP token."""
    import dsar.urls

    original = admin.site.__class__
    settings.ADMIN_2FA = True
    importlib.reload(dsar.urls)
    clear_url_caches()
    yield
    admin.site.__class__ = original
    settings.ADMIN_2FA = False
    importlib.reload(dsar.urls)
    clear_url_caches()


def test_production_settings_require_two_factor_login(tmp_path):
    from .procs import BIN, demo_env, run

    probe = (
        "import django; django.setup(); from django.conf import settings; print(settings.ADMIN_2FA)"
    )
    demo = run(
        [str(BIN / "python"), "-c", probe],
        demo_env(tmp_path, DJANGO_SETTINGS_MODULE="dsar.settings"),
    )
    assert demo.stdout.strip() == "False"
    production = run(
        [str(BIN / "python"), "-c", probe],
        demo_env(
            tmp_path,
            DJANGO_SETTINGS_MODULE="dsar.settings",
            DJANGO_SECRET_KEY="x" * 60,
            DSAR_ID_DOCUMENT_KEY="YnVpbGQtb25seS1ub3QtdXNlZC1hdC1ydW50aW1lLTA=",
            DSAR_AUDIT_KEY="k" * 40,
        ),
    )
    assert production.stdout.strip() == "True", production.stderr


def test_with_two_factors_a_password_alone_does_not_open_the_admin(cast, client, two_factor):
    officer = cast.officer_a
    officer.set_password("pw-for-tests-2026")
    officer.save()
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    response = client.post(LOGIN, {"username": "officer_a", "password": "pw-for-tests-2026"})
    assert response.status_code == 200  # the form again, asking for the token
    assert client.get(reverse("admin:dsar_case_changelist")).status_code == 302
    response = client.post(
        LOGIN,
        {
            "username": "officer_a",
            "password": "pw-for-tests-2026",
            "otp_device": device.persistent_id,
            "otp_token": "000000",
        },
    )
    assert client.get(reverse("admin:dsar_case_changelist")).status_code == 302
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows retries after a wrong token; not what is tested
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    response = client.post(
        LOGIN,
        {
            "username": "officer_a",
            "password": "pw-for-tests-2026",
            "otp_device": device.persistent_id,
            "otp_token": f"{totp.token():06d}",
            "next": "/admin/",
        },
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:dsar_case_changelist")).status_code == 200


def test_repeated_failures_lock_the_login_for_a_finite_time(cast, client, settings):
    settings.AXES_ENABLED = True
    officer = cast.officer_a
    officer.set_password("pw-for-tests-2026")
    officer.save()
    with time_machine.travel("2026-03-05 10:00 +0000", tick=False):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(LOGIN, {"username": "officer_a", "password": "wrong"})
        locked = client.post(LOGIN, {"username": "officer_a", "password": "pw-for-tests-2026"})
        assert locked.status_code == 429
        assert client.get(reverse("admin:dsar_case_changelist")).status_code == 302
    with time_machine.travel("2026-03-05 10:31 +0000", tick=False):
        response = client.post(LOGIN, {"username": "officer_a", "password": "pw-for-tests-2026"})
        assert response.status_code == 302
        assert client.get(reverse("admin:dsar_case_changelist")).status_code == 200


def test_an_idle_session_expires(cast, client, settings):
    with time_machine.travel("2026-03-05 10:00 +0000", tick=False):
        client.force_login(cast.officer_a)
        assert client.get(reverse("admin:dsar_case_changelist")).status_code == 200
    with time_machine.travel("2026-03-05 10:25 +0000", tick=False):
        assert client.get(reverse("admin:dsar_case_changelist")).status_code == 200  # renews
    with time_machine.travel("2026-03-05 10:54 +0000", tick=False):
        assert client.get(reverse("admin:dsar_case_changelist")).status_code == 200
    with time_machine.travel("2026-03-05 11:25 +0000", tick=False):
        assert client.get(reverse("admin:dsar_case_changelist")).status_code == 302


def test_security_headers_are_on_every_response(client):
    for url in ("/", LOGIN):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "camera=()" in response["Permissions-Policy"]
