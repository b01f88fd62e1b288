"""Deadline sweep: the same 100 due cases among 10,000 and among 1,000,000 open ones.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.sweep

The sweep should read only what is due (through the index on ``next_milestone_at``), so its time
should not grow with the number of open cases. It creates and drops its own database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

from bench.common import bench_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args()
    with bench_database() as database_url:
        small, large = measure(database_url, args)
    print(f"sweep, {args.due} due among {args.small:>9,} open: {small:8.1f} ms")
    print(f"sweep, {args.due} due among {args.large:>9,} open: {large:8.1f} ms")
    print(f"ratio large/small: {large / small:8.3f}")


def measure(database_url: str, args: argparse.Namespace) -> tuple[float, float]:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.settings",
        DSAR_VAR_DIR=args.var_dir,
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django.utils import timezone

    from bench.rows import clone_cases
    from cases.actors import Actor
    from cases.intake import receive_case
    from cases.models import Case, Milestone, OutgoingMail
    from cases.workflow import perform
    from controllers.models import Controller
    from dsar.celery import app
    from reminders.tasks import sweep_deadlines

    assert not settings.DEBUG, "measure what production runs"
    app.conf.broker_url = "memory://"  # publishing is not what is measured
    try:
        call_command("migrate", verbosity=0)
        call_command("load_policies", stdout=open(os.devnull, "w"))  # noqa: SIM115
        controller = Controller.objects.get(slug="smart-site")

        def confirmed(email: str, received: dt.datetime | None = None) -> Case:
            case = receive_case(
                controller=controller,
                right="access",
                name="Bench",
                email=email,
                language="nl",
                received_at=received,
            )
            return perform(case, "confirm_email", actor=Actor.subject(), now=received)

        past = timezone.now() - dt.timedelta(days=40)
        due = [confirmed(f"due{n}@example.org", past).pk for n in range(args.due)]
        # Open cases whose next milestone is days ahead: copies of one received just now.
        template = confirmed("open@example.org")

        def reset() -> None:
            Milestone.objects.filter(case_id__in=due).delete()
            OutgoingMail.objects.filter(case_id__in=due).delete()
            Case.objects.filter(pk__in=due).update(next_milestone_at=past)

        def timed() -> float:
            times = []
            for _ in range(args.runs):
                reset()
                start = time.perf_counter()
                sent = sweep_deadlines()
                times.append((time.perf_counter() - start) * 1000)
                assert sent == args.due * 5, sent  # five milestones each, all past
            return statistics.median(times)

        clone_cases(template, args.small - 1, year=2024)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Case._meta.db_table}")
        small = timed()
        clone_cases(template, args.large - args.small, year=2023)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Case._meta.db_table}")
        large = timed()
    finally:
        connections.close_all()
    return small, large


if __name__ == "__main__":
    main()
