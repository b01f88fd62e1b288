"""The real parts: PostgreSQL when DATABASE_URL is set, Redis, and a Celery worker process."""

from __future__ import annotations

import os
import socket

import pytest
import redis
from django.db import connection

from .conftest import require_service
from .procs import BIN, PATIENCE, Proc, assert_worker_runs_a_task, demo_env, with_celery_app


@pytest.mark.django_db
def test_tests_run_on_postgresql_when_database_url_is_set():
    url = os.environ.get("DATABASE_URL", "")
    require_service(url.startswith(("postgres://", "postgresql://")), "DATABASE_URL is not set")
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert "PostgreSQL" in cursor.fetchone()[0]


def test_redis_answers(redis_url):
    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True


def test_a_celery_worker_consumes_from_redis(redis_url, tmp_path):
    """A real worker process on the Redis broker answers a ping and runs a task sent to it."""
    env = demo_env(tmp_path, REDIS_URL=redis_url)
    hostname = f"ci-{os.getpid()}@%h"
    with Proc(
        [
            str(BIN / "celery"),
            "-A",
            "dsar",
            "worker",
            "--loglevel=INFO",
            "--pool=solo",
            "-n",
            hostname,
        ],
        env,
    ) as worker:
        worker.wait_for(r"ready\.")
        # Addressed to this worker, the ping returns as soon as it answers (a broadcast would
        # wait out its whole timeout); the timeout is only how long a busy machine may take.
        name = f"ci-{os.getpid()}@{socket.gethostname()}"
        replies = with_celery_app(
            f"print(app.control.ping(destination=[{name!r}], timeout={PATIENCE}))", env
        )
        assert "'ok': 'pong'" in replies
        assert_worker_runs_a_task(worker, env)
