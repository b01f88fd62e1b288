"""The project as a newcomer meets it: settings from the environment, the two commands, compose."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import shutil
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command, get_commands, load_command_class

from controllers.models import Role

from .procs import (
    BIN,
    PATIENCE,
    ROOT,
    Proc,
    assert_worker_runs_a_task,
    demo_env,
    free_port,
    run,
)

# Settings only: every check of the environment is made where dsar/settings.py is read, so the
# probes skip django.setup() (loading every app costs seconds a probe); the app itself starts on
# these defaults in the `make run` test and with production settings in the `check --deploy` one.
SETTINGS_PROBE = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'broker': s.CELERY_BROKER_URL, 'email': s.EMAIL_BACKEND, 'anymail': s.ANYMAIL, "
    "'debug': s.DEBUG, 'demo': s.DEMO, 'hosts': s.ALLOWED_HOSTS, 'site': s.SITE_URL}))"
)

# What `setup_demo` left in the demo's database, read in a process of the demo's environment
# (the database is the subprocess's var/db, not the test database): the logins, the officer's
# and the auditor's memberships; then the admin changes their password and `setup_demo` runs a
# second time, which must add nothing and keep that password.
DEMO_PROBE = """
import json, django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from controllers.models import Controller, Membership, Role

def state():
    users = get_user_model().objects
    return {
        "controllers": sorted(Controller.objects.values_list("slug", flat=True)),
        "users": users.count(),
        "memberships": Membership.objects.count(),
        "usernames": sorted(users.values_list("username", flat=True)),
        "officer": [
            list(m)
            for m in Membership.objects.filter(user__username="officer-smartlockr")
            .values_list("controller__slug", "role")
        ],
        "auditor": Membership.objects.filter(user__username="auditor", role=Role.AUDITOR)
        .count(),
    }

first = state()
# Each login works with the printed password (checked as the login's backend does, without
# django-axes, which wants a request).
first["logins"] = sorted(
    u.username for u in get_user_model().objects.filter(is_active=True)
    if u.check_password("dsar-demo-2026")
)
admin = get_user_model().objects.get(username="admin")
admin.set_password("changed-by-the-user-42")
admin.save()
call_command("setup_demo", stdout=open("/dev/null", "w"))
again = state()
admin = get_user_model().objects.get(username="admin")
again["changed"] = admin.check_password("changed-by-the-user-42")
print(json.dumps({"first": first, "again": again}))
"""


def probe(tmp_path: Path, **env: str) -> dict:
    result = run([str(BIN / "python"), "-c", SETTINGS_PROBE], demo_env(tmp_path, **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_runs_on_embedded_defaults_without_any_environment(tmp_path):
    settings = probe(tmp_path, DJANGO_SETTINGS_MODULE="dsar.settings")
    assert settings["engine"] == "django.db.backends.sqlite3"
    assert settings["broker"] == "filesystem://"
    assert settings["email"] == "dsar.mailfiles.EmailBackend"  # files, none for .invalid
    assert settings["demo"] is True
    assert (tmp_path / "broker" / "queue").is_dir()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # not readable by others


def test_environment_switches_to_postgresql_redis_and_a_mail_provider(tmp_path):
    settings = probe(
        tmp_path,
        DJANGO_SETTINGS_MODULE="dsar.settings",
        DATABASE_URL="postgres://u:p@db.example:5432/dsar",
        REDIS_URL="redis://cache.example:6379/2",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DSAR_ID_DOCUMENT_KEY=Fernet.generate_key().decode(),
        DSAR_AUDIT_KEY="k" * 40,
        ALLOWED_HOSTS="dsar.example.org",
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN="token-123",
        ANYMAIL_WEBHOOK_SECRET="hook:secret",
    )
    assert settings["engine"] == "django.db.backends.postgresql"
    assert settings["broker"] == "redis://cache.example:6379/2"
    assert settings["email"] == "anymail.backends.postmark.EmailBackend"
    assert settings["anymail"] == {
        "POSTMARK_SERVER_TOKEN": "token-123",
        "WEBHOOK_SECRET": "hook:secret",
    }
    assert settings["debug"] is False and settings["demo"] is False
    assert settings["hosts"] == ["dsar.example.org"]


def test_a_malformed_setting_fails_loudly(tmp_path):
    result = run(
        [str(BIN / "python"), "-c", SETTINGS_PROBE],
        demo_env(tmp_path, DJANGO_SETTINGS_MODULE="dsar.settings", DEBUG="maybe"),
    )
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_production_without_an_id_document_key_refuses_to_start(tmp_path):
    result = run(
        [str(BIN / "python"), "-c", SETTINGS_PROBE],
        demo_env(tmp_path, DJANGO_SETTINGS_MODULE="dsar.settings", DJANGO_SECRET_KEY="x" * 60),
    )
    assert result.returncode != 0
    assert "DSAR_ID_DOCUMENT_KEY must be set" in result.stderr


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    result = run(
        [str(BIN / "python"), "-c", SETTINGS_PROBE],
        demo_env(tmp_path, DJANGO_SETTINGS_MODULE="dsar.settings", DSAR_DEMO="0"),
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    env = demo_env(
        tmp_path,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DSAR_ID_DOCUMENT_KEY=Fernet.generate_key().decode(),
        DSAR_AUDIT_KEY="k" * 40,
        ALLOWED_HOSTS="dsar.example.org",
    )
    result = run(
        [str(BIN / "python"), "manage.py", "check", "--deploy", "--fail-level", "DEBUG"], env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_setup_demo_refuses_outside_the_demo(settings):
    settings.DEMO = False
    with pytest.raises(CommandError, match="demo only"):
        call_command("setup_demo")
    assert get_user_model().objects.count() == 0


# CI only (README, Development): it fills the demo's 2,000 people a system and seeds its history
# in a subprocess, then starts four processes, about a tenth of the suite's time. The history
# (test_demo_history) and the processor (the `world` fixture) are checked in process by every
# `make test`; the printed logins and a worker on the filesystem broker only here, in CI.
@pytest.mark.ci_only
def test_make_run_serves_web_worker_beat_and_the_stub_processor(tmp_path):
    """The serving half of `make run` (its Procfile) from a fresh var/: all four come up."""
    env = demo_env(
        tmp_path, DSAR_PORT=str(port := free_port()), DSAR_PROCESSOR_PORT=str(stub := free_port())
    )
    setup = run([str(BIN / "python"), "manage.py", "setup_demo"], env)
    assert setup.returncode == 0, setup.stderr
    # It loads the five controllers and prints the demo's logins, each of which works.
    slugs = sorted(p.stem for p in (ROOT / "controllers" / "policies").glob("*.toml"))
    usernames = ["admin", "auditor", *(f"officer-{slug}" for slug in slugs)]
    for username in usernames:
        assert username in setup.stdout
    demo = run([str(BIN / "python"), "-c", DEMO_PROBE], env)
    assert demo.returncode == 0, demo.stderr
    states = json.loads(demo.stdout.strip().splitlines()[-1])
    first, again = states["first"], states["again"]
    assert len(slugs) == 5 and first["controllers"] == slugs
    assert first["logins"] == sorted(usernames)
    assert first["officer"] == [["smartlockr", Role.OFFICER]]
    assert first["auditor"] == 5
    # Run again (idempotent): nothing added, and the password the admin changed is kept.
    assert (again["users"], again["memberships"], again["controllers"]) == (7, 10, slugs)
    assert again["usernames"] == first["usernames"] and again["changed"]
    with Proc([str(BIN / "honcho"), "--procfile", "Procfile", "start"], env) as proc:
        proc.wait_for(r"celery@\S+ ready")
        proc.wait_for(r"beat: Starting")
        proc.wait_for(rf"127\.0\.0\.1:{port}")
        proc.wait_for(rf"stub processor on http://127\.0\.0\.1:{stub}")
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/admin/login/", timeout=PATIENCE
        ) as page:
            assert page.status == 200
            assert b"csrfmiddlewaretoken" in page.read()
        # A task sent through the filesystem broker is consumed by the worker.
        assert_worker_runs_a_task(proc, env)
        # One Ctrl-C (SIGINT to the group, as a terminal sends it) stops all three.
        assert proc.stop() == 130  # honcho's own code for SIGINT: stopped, not killed
    for name in ("web.1", "worker.1", "beat.1", "processor.1"):
        assert re.search(rf"\| {re.escape(name)} stopped", proc.output), proc.output[-2000:]
    # Each stopped by itself: honcho kills what is still running after 5 s, and a worker killed
    # mid-task loses it on the demo's filesystem broker.
    assert "SIGKILL" not in proc.output, proc.output[-2000:]


def test_docker_compose_parses_and_every_command_exists():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "web", "worker", "beat", "mail"} <= set(services)
    assert (ROOT / "Dockerfile").is_file()
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["build"] == "."
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith(
            "redis://"
        )
        command = service["command"]
        words = shlex.split(command[-1]) if command[0] == "sh" else command
        programs = [w for w in words if w in {"python", "gunicorn", "celery"}]
        assert programs, f"{name}: no known program in {command}"
        for program in programs:
            assert shutil.which(program, path=str(BIN)), f"{name}: {program} is not installed"
        if "manage.py" in words:
            for index, word in enumerate(words):
                if word == "manage.py":
                    # What `manage.py SUB --help` does, in process (a subprocess a command cost
                    # seconds of starting Django): the command is found, imports, and parses.
                    sub = words[index + 1]
                    assert sub in get_commands(), f"{name}: manage.py {sub} does not exist"
                    command = load_command_class(get_commands()[sub], sub)
                    assert command.create_parser("manage.py", sub).format_help()
        if "gunicorn" in words:
            module = words[words.index("gunicorn") + 1]
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
        if "celery" in words:
            assert (
                words[words.index("-A") + 1] == "dsar" and (ROOT / "dsar" / "celery.py").is_file()
            )
    for name in ("db", "redis", "mail"):
        assert services[name]["image"]


def test_procfile_matches_what_make_run_serves():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert set(processes) == {"web", "worker", "beat", "processor"}
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:.*\n(\t.*\n)*\t.*setup_demo", makefile, re.M)
    assert re.search(r"^run:.*\n(\t.*\n)*\t.*honcho --procfile Procfile start", makefile, re.M)
    assert re.search(r"^test:.*\n\t.*pytest", makefile, re.M)


@pytest.mark.parametrize(
    ("missing", "env"),
    [
        (
            "ANYMAIL_WEBHOOK_SECRET",  # a provider's webhooks would accept forged posts
            {"DSAR_AUDIT_KEY": "k" * 40, "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend"},
        ),
        ("DSAR_AUDIT_KEY", {"DSAR_AUDIT_KEY": "too short"}),
    ],
)
def test_production_without_a_required_secret_refuses_to_start(tmp_path, missing, env):
    result = run(
        [str(BIN / "python"), "-c", SETTINGS_PROBE],
        demo_env(
            tmp_path,
            DJANGO_SETTINGS_MODULE="dsar.settings",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DSAR_ID_DOCUMENT_KEY=Fernet.generate_key().decode(),
            **env,
        ),
    )
    assert result.returncode != 0
    assert f"{missing} must be set outside the demo" in result.stderr


def test_the_demo_s_mail_links_follow_its_port(tmp_path):
    assert probe(tmp_path, DJANGO_SETTINGS_MODULE="dsar.settings")["site"] == (
        "http://127.0.0.1:8000"
    )
    assert probe(tmp_path, DJANGO_SETTINGS_MODULE="dsar.settings", DSAR_PORT="8123")["site"] == (
        "http://127.0.0.1:8123"
    )
