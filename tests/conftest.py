"""Shared test setup.

Tests that need a real service (PostgreSQL, Redis, a Celery worker process, a browser) call
``require_service``: on a developer's machine without the service they are skipped with the
reason; with ``DSAR_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service fails the test,
so CI cannot go green by skipping.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("DSAR_REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (DSAR_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


def tcp_reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        address = (parsed.hostname or "127.0.0.1", parsed.port or default_port)
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    require_service(bool(url), "REDIS_URL is not set")
    require_service(tcp_reachable(url, 6379), f"Redis at {url} is not reachable")
    return url


@pytest.fixture
def loaded_controllers(db):
    """The five real controllers, loaded from their policy files."""
    from django.conf import settings

    from controllers.policy import load_policy_files, policy_files

    return {c.slug: c for c in load_policy_files(policy_files(settings.POLICY_DIR))}


@pytest.fixture(autouse=True)
def _eager_celery():
    """In-process tests run tasks at once (after commit); real workers are tested separately."""
    from dsar.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The intake rate limit counts in the cache: no test inherits another's submissions.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.7 s a password here; tests that create users would spend minutes on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    # ID documents are written under MEDIA_ROOT: each test gets its own folder.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block as if its transaction committed: on-commit work (mail tasks) runs."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


@pytest.fixture
def cast(loaded_controllers):
    from .cast import make_cast

    return make_cast(loaded_controllers)


@pytest.fixture
def submit(committed):
    """Receive a request through intake, its on-commit work run; returns the Request."""
    from dsar.intake import receive_request

    def make(controller, right="access", *, confirm=True, **fields):
        from dsar.workflow import Actor, perform

        values = {"name": "Jan Jansen", "email": "jan@example.org", "language": "nl"}
        values.update(fields)
        request = committed(receive_request, controller=controller, right=right, **values)
        if confirm:
            request = committed(
                perform,
                request,
                "confirm_email",
                actor=Actor.subject(),
                has_id_document=request.id_documents.exists(),
            )
        return request

    return make


@pytest.fixture
def english():
    """Messages in English for assertions (Dutch is the product's default language)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _no_lockout(settings):
    # django-axes counts failed logins; the lockout test switches it back on.
    settings.AXES_ENABLED = False
