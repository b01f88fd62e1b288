"""Shared test setup.

Tests that need a real service (PostgreSQL, Redis, a Celery worker process, a browser) call
``require_service``: on a developer's machine without the service they are skipped with the
reason; with ``DSAR_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service fails the test,
so CI cannot go green by skipping.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
from typing import Any
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("DSAR_REQUIRE_SERVICES") == "1"
# CI runs every test; a newcomer's `make test` leaves out the few heavy end-to-end ones marked
# ``ci_only`` (README, Development), which only repeat in a subprocess what the rest of the
# suite checks in process, so that it finishes in about a minute on two cores.
RUN_CI_ONLY = REQUIRE_SERVICES or os.environ.get("CI") == "1"


def require_service(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (DSAR_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items) -> None:
    if RUN_CI_ONLY:
        return
    skip = pytest.mark.skip(reason="ci_only: CI runs it (set CI=1 to run it here)")
    for item in items:
        if item.get_closest_marker("ci_only"):
            item.add_marker(skip)


def tcp_reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        address = (parsed.hostname or "127.0.0.1", parsed.port or default_port)
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


# --- Two runs of the suite at once (two clones, or CI beside a developer) share this machine's
# PostgreSQL and Redis. Each test process claims what it uses for as long as it runs: a slot
# for its PostgreSQL test database (so its name is not another run's), and a Redis database.

_CLAIM_PREFIX = "dsar-tests:redis-db:"
# Redis databases 1-14 are claimed by test processes (0 holds the claims; 15 is left to the
# benchmarks run by hand). A claim lasts CLAIM_SECONDS unless renewed, as every test does, so
# a killed run frees its databases within minutes.
_REDIS_DATABASES = range(1, 15)
CLAIM_SECONDS = 15 * 60
_held: dict[str, object] = {}


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _postgres_slot(url: str) -> int:
    """The lowest slot no other live test process holds: a session-level advisory lock on a
    connection kept open until this process ends (the server releases it if the process dies,
    so a killed run never keeps a slot)."""
    import psycopg

    if "postgres_slot" not in _held:
        server = urlparse(url)._replace(path="/postgres").geturl()
        server = server.replace("postgres://", "postgresql://", 1)
        conn = psycopg.connect(server, autocommit=True)
        for slot in range(100):
            if conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (0x0D5A, slot)).fetchone()[0]:
                _held["postgres_slot"], _held["postgres_lock"] = slot, conn
                break
        else:  # pragma: no cover - a hundred runs at once
            raise RuntimeError("no free slot for a PostgreSQL test database")
    return _held["postgres_slot"]  # type: ignore[return-value]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """pytest-django names the test database after the xdist worker (test_test_gw0), which a
    second run of the suite at once would clobber: on PostgreSQL the name also carries this
    process's slot (test_test_gw0_s1). SQLite's test database is in memory, its own already."""
    from django.conf import settings

    for database in settings.DATABASES.values():
        if database["ENGINE"].endswith("sqlite3"):
            continue
        slot = _postgres_slot(os.environ.get("DATABASE_URL", ""))
        test = database.setdefault("TEST", {})
        test["NAME"] = f"{test.get('NAME') or 'test_' + database['NAME']}_s{slot}"


def _claims(url: str) -> Any:
    import redis

    if "claims" not in _held:
        _held["claims"] = redis.Redis.from_url(urlparse(url)._replace(path="/0").geturl())
    return _held["claims"]


def _redis_database(url: str) -> int:
    """This process's Redis database, claimed in database 0 and renewed on every call."""
    client, owner = _claims(url), _owner()
    number = _held.get("redis_database")
    if number is not None and client.get(f"{_CLAIM_PREFIX}{number}") == owner.encode():
        client.expire(f"{_CLAIM_PREFIX}{number}", CLAIM_SECONDS)
        return number  # type: ignore[return-value]
    for number in _REDIS_DATABASES:
        if client.set(f"{_CLAIM_PREFIX}{number}", owner, nx=True, ex=CLAIM_SECONDS):
            _held["redis_database"] = number
            return number
    pytest.fail("every Redis database for tests is claimed by other runs of the suite")


@pytest.fixture(scope="session", autouse=True)
def _release_claims():
    """A run that ends frees its Redis database at once (a killed one, when the claim lapses)."""
    yield
    number = _held.get("redis_database")
    if number is not None:
        key = f"{_CLAIM_PREFIX}{number}"
        if _held["claims"].get(key) == _owner().encode():  # type: ignore[attr-defined]
            _held["claims"].delete(key)  # type: ignore[attr-defined]


def own_redis_url(url: str) -> str:
    """REDIS_URL with this process's own database: tests on two workers (or two runs) that
    each start a Celery worker would otherwise share one queue, and one's worker would take
    the other's task (and run it against the wrong database)."""
    return urlparse(url)._replace(path=f"/{_redis_database(url)}").geturl()


@pytest.fixture
def redis_url() -> str:
    """This process's Redis database, emptied."""
    import redis

    url = os.environ.get("REDIS_URL", "")
    require_service(bool(url), "REDIS_URL is not set")
    require_service(tcp_reachable(url, 6379), f"Redis at {url} is not reachable")
    own = own_redis_url(url)
    redis.Redis.from_url(own).flushdb()
    return own


def _load_policies():
    from django.conf import settings

    from controllers.policy import load_policy_files, policy_files

    return load_policy_files(policy_files(settings.POLICY_DIR))


def load_systems() -> None:
    """The five controllers' systems files. Not in the baseline: a case of a controller with
    systems starts searches, which the core's tests of steps and events do not expect."""
    from django.conf import settings

    from controllers.systems import load_systems_files, systems_files

    load_systems_files(systems_files(settings.SYSTEMS_DIR))


@pytest.fixture
def systems(loaded_controllers):
    """The five controllers with their declared systems (rolled back with the test)."""
    load_systems()
    for controller in loaded_controllers.values():
        controller.refresh_from_db()  # the systems file's [[notify]] is kept on the controller
    return loaded_controllers


def _ensure_baseline() -> None:
    """The migrations' seed data and the five controllers, put back if a transactional test
    (browser, faults) emptied the database when it ended: the order in which tests run, and
    which xdist worker runs them, is not ours to rely on."""
    from django.conf import settings
    from django.db import connection

    from controllers.models import Controller, SupervisoryAuthority
    from controllers.policy import policy_files

    if not SupervisoryAuthority.objects.exists():
        contents = getattr(connection, "_test_serialized_contents", None)
        if contents:
            connection.creation.deserialize_db_from_string(contents)
        else:
            from django.apps import apps

            seed = importlib.import_module("controllers.migrations.0002_supervisory_authorities")
            seed.seed(apps, None)
    if Controller.objects.count() != len(policy_files(settings.POLICY_DIR)):
        _load_policies()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The five controllers are loaded once a run, into the test database every test starts
    from (each test's transaction is rolled back to it)."""
    with django_db_blocker.unblock():
        _load_policies()
    yield
    with django_db_blocker.unblock():
        _end_other_sessions()


def _end_other_sessions() -> None:
    """Before pytest-django drops a PostgreSQL test database: end the sessions on it that a
    thread or a subprocess of this run left open (the drop otherwise fails, "being accessed by
    other users", and leaves the database behind). The name is this run's own (its worker and
    slot), so no other run's session is touched."""
    from django.db import connection, connections

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    connections.close_all()


@pytest.fixture(scope="class")
def seeded_once(django_db_setup, django_db_blocker, tmp_path_factory):
    """Run an expensive setup once for a class of tests that only read what it made, e.g.
    ``seeded_once(history.seed)`` in a class-scoped fixture; returns what the setup returned.

    The setup runs in a transaction of its own, on-commit work executed as if it committed,
    with the per-test fixtures' settings (private media and var folders, fast hashing, eager
    Celery, this process's cache); each test's own transaction nests in it and is rolled back
    to it, and the whole is rolled back when the class ends, so the next test starts from the
    baseline again. A test that changes what the setup made belongs outside such a class (its
    changes are rolled back, but nothing stops it from depending on another test's order).
    """
    from django.core.cache import cache
    from django.db import transaction
    from django.test import TestCase, override_settings

    from controllers import registry
    from dsar.celery import app

    stack = contextlib.ExitStack()

    def run(setup):
        folder = tmp_path_factory.mktemp("seeded")
        (folder / "var").mkdir()
        stack.enter_context(django_db_blocker.unblock())
        stack.enter_context(
            override_settings(
                MEDIA_ROOT=folder / "media",
                VAR_DIR=folder / "var",
                PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
                AXES_ENABLED=False,
                CACHES=_own_caches(),
            )
        )
        previous = app.conf.task_always_eager
        app.conf.task_always_eager = True
        stack.callback(setattr, app.conf, "task_always_eager", previous)
        atomic = transaction.atomic()
        atomic.__enter__()
        # Rolled back, never committed, whatever happens in the tests.
        stack.callback(atomic.__exit__, None, None, None)
        stack.callback(transaction.set_rollback, True)
        _ensure_baseline()
        registry.invalidate()
        cache.clear()
        with TestCase.captureOnCommitCallbacks(execute=True):
            return setup()

    with stack:
        yield run
    # The next test (maybe another module's) reads the registry afresh.
    registry.invalidate()


def _own_caches() -> dict:
    """The cache settings with this process's own Redis database (see ``_fresh_cache``)."""
    from django.conf import settings

    location = settings.CACHES["default"].get("LOCATION") or ""
    if location.startswith("redis"):
        return {"default": {**settings.CACHES["default"], "LOCATION": own_redis_url(location)}}
    return settings.CACHES


@pytest.fixture(autouse=True)
def _baseline(request):
    """Every test that uses the database starts from the seed data and the five controllers."""
    uses_db = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
        "live_server",
    } & set(request.fixturenames)
    if uses_db:
        request.getfixturevalue("_django_db_helper")
        _ensure_baseline()


@pytest.fixture
def loaded_controllers(db):
    """The five real controllers, from their policy files (loaded once a run)."""
    from controllers.models import Controller

    return {c.slug: c for c in Controller.objects.select_related("supervisory_authority")}


@pytest.fixture(autouse=True)
def _fresh_registry(_fresh_cache):
    # The process-wide registry cache must not carry one test's controllers into the next
    # (a test may change them with update(), which sends no signal).
    from controllers import registry

    registry.invalidate()


@pytest.fixture(autouse=True)
def _eager_celery():
    """In-process tests run tasks at once (after commit); real workers are tested separately."""
    from dsar.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    # The intake rate limit counts in the cache: no test inherits another's submissions. With
    # REDIS_URL (CI) the cache is Redis, shared by the xdist workers, by other runs and by the
    # Celery broker: it lives in this process's own database (the broker's keys beside it are
    # the process's own too), so one's clear() wipes nobody else's keys.
    from django.core.cache import cache

    settings.CACHES = _own_caches()
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.7 s a password here; tests that create users would spend minutes on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    # ID documents, staged searches and packages are written under MEDIA_ROOT, the demo's
    # systems under VAR_DIR: each test gets folders of its own, never the developer's var/.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()


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
    from cases.intake import receive_case

    def make(controller, right="access", *, confirm=True, **fields):
        from cases.actors import Actor
        from cases.workflow import perform

        values = {"name": "Jan Jansen", "email": "jan@example.org", "language": "nl"}
        values.update(fields)
        case = committed(receive_case, controller=controller, right=right, **values)
        if confirm:
            case = committed(
                perform,
                case,
                "confirm_email",
                actor=Actor.subject(),
            )
        return case

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


# The fulfilment tests' demo world (tests/demo_world.py), a fixture for every test module.
from .demo_world import built_systems, world  # noqa: E402, F401


@pytest.fixture
def live_db_url(transactional_db):
    """The test database as a URL, for worker processes: PostgreSQL only (SQLite is in memory)."""
    from django.db import connection

    url = os.environ.get("DATABASE_URL", "")
    require_service(url.startswith(("postgres://", "postgresql://")), "DATABASE_URL is not set")
    return url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
