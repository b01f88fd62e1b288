"""Faults with real parts: a broker that is down while a subject submits."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from cases.models import Case, MailStatus, OutgoingMail

from .conftest import require_service
from .procs import BIN, Proc, demo_env, free_port, run, until, with_celery_app

# The POST is timed inside the process: what is measured is the request with the broker
# down (publishing gives up after its short retry policy), not how long Django takes to start.
SUBMIT = """
import time
from django.test import Client
started = time.monotonic()
response = Client(HTTP_HOST="127.0.0.1").post(
    "/c/smart-site/request/",
    {"right": "access", "name": "Jan", "email": "jan@example.org", "details": ""},
)
print("STATUS", response.status_code, "SECONDS", time.monotonic() - started)
"""
# Publishing with Redis down gives up within about a second (CELERY_TASK_PUBLISH_RETRY_POLICY);
# the bound is generous for a busy machine and still far below a publish that retries forever.
BROKER_DOWN_BOUND = 15


class PrivateRedis:
    """A Redis server of the test's own, on a free port, that the test may stop and start."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.dir = tmp
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
        )

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return False
            return True

        until(listening, "redis-server to listen")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def worker_env(tmp_path, live_db_url):
    return demo_env(
        tmp_path,
        DATABASE_URL=live_db_url,
        DJANGO_SETTINGS_MODULE="dsar.settings",
    )


@pytest.fixture
def live_db_url(transactional_db):
    """The test database as a URL, for worker processes: PostgreSQL only (SQLite is in memory)."""
    url = os.environ.get("DATABASE_URL", "")
    require_service(url.startswith(("postgres://", "postgresql://")), "DATABASE_URL is not set")
    name = connection.settings_dict["NAME"]
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_submission_while_redis_is_down_is_stored_and_mailed_when_it_is_back(
    loaded_controllers, tmp_path, worker_env
):
    require_service(bool(shutil.which("redis-server")), "redis-server is not installed")
    redis = PrivateRedis(tmp_path)
    env = {
        **worker_env,
        "REDIS_URL": redis.url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    }

    # Redis is down: the subject still sees success, and the request and its mail row exist.
    result = run([str(BIN / "python"), "manage.py", "shell", "-c", SUBMIT], env)
    assert "STATUS 302" in result.stdout, result.stdout + result.stderr
    assert float(result.stdout.split("SECONDS")[1]) < BROKER_DOWN_BOUND, result.stdout
    case = Case.objects.get()
    (mail,) = OutgoingMail.objects.filter(case=case)
    assert mail.status == MailStatus.QUEUED

    # Redis is back; a worker and the unsent-mail sweep deliver it, once.
    redis.start()
    try:
        OutgoingMail.objects.filter(pk=mail.pk).update(
            created_at=mail.created_at.replace(year=2000)
        )
        with Proc(
            [str(BIN / "celery"), "-A", "dsar", "worker", "--pool=solo", "--loglevel=INFO"], env
        ) as worker:
            worker.wait_for(r"ready\.")
            run(
                [
                    str(BIN / "python"),
                    "-c",
                    "from dsar.celery import app; app.send_task('cases.resend_unsent_mail')",
                ],
                env,
            )
            worker.wait_for(r"Task cases\.send_mail\[[0-9a-f-]+\] succeeded")
    finally:
        redis.stop()
    mail.refresh_from_db()
    assert mail.status == MailStatus.SENT and mail.attempts == 1
    sent = list((Path(env["DSAR_VAR_DIR"]) / "mail").glob("*.log"))
    assert len(sent) == 1 and case.reference in sent[0].read_text()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_while_sending_leaves_the_mail_to_be_sent_exactly_once(
    cast, submit, tmp_path, worker_env, redis_url
):
    import signal

    case = submit(cast.a, confirm=False)
    mail = OutgoingMail.objects.create(case=case, to=case.email, kind="confirm", language="nl")
    stall = tmp_path / "stall"
    stall.mkdir()
    env = {
        **worker_env,
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "tests.backends.StallingEmailBackend",
        "DSAR_STALL_DIR": str(stall),
    }
    worker_args = [str(BIN / "celery"), "-A", "dsar", "worker", "--pool=solo", "--loglevel=INFO"]
    with Proc(worker_args, env) as worker:
        worker.wait_for(r"ready\.")
        with_celery_app(f"app.send_task('cases.send_mail', args=[{mail.pk}])", env)
        until(lambda: (stall / "stalled").exists(), "the worker to stall while sending")
        worker.stop(signal.SIGKILL)  # mid-send: the row's transaction dies with the process
    mail.refresh_from_db()
    assert mail.status == MailStatus.QUEUED and mail.attempts == 0

    OutgoingMail.objects.filter(pk=mail.pk).update(created_at=mail.created_at.replace(year=2000))
    with Proc(worker_args, env) as worker:
        worker.wait_for(r"ready\.")
        with_celery_app("app.send_task('cases.resend_unsent_mail')", env)
        worker.wait_for(r"Task cases\.send_mail\[[0-9a-f-]+\] succeeded")
        # Whatever the broker redelivers later finds the row sent and does nothing.
        with_celery_app(f"app.send_task('cases.send_mail', args=[{mail.pk}])", env)
        worker.wait_for(r"succeeded in [0-9.]+s: False")
    mail.refresh_from_db()
    assert mail.status == MailStatus.SENT and mail.attempts == 1
    assert len(list(stall.glob("sent-*.eml"))) == 1
