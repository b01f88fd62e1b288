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
