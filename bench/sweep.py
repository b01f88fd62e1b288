"""Deadline sweep: the same 100 due requests among 10,000 and among 1,000,000 open ones.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.sweep

The sweep should read only what is due (through the index on ``next_milestone_at``), so its time
should not grow with the number of open requests. It creates and drops its own database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from bench.common import bench_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Open requests, none of them due: their next milestone is far ahead.
INSERT_NOT_DUE = """
INSERT INTO dsar_request (reference, controller_id, "right", state, channel, language, received_at,
    name, email, customer_number, phone, postal_address, details, status_salt, paused_days,
    extension_reason, statutory_deadline, extended_deadline, notice_by, effective_deadline,
    next_milestone_at, refusal_ground, refusal_reason, partial_refusal, response)
SELECT 'BENCH-' || %(offset)s + g, %(controller)s, 'access', 'in_progress', 'web', 'nl',
    now(), 'Bench', 'b' || g || '@example.org', '', '', '', '', 'x', 0, '',
    now() + interval '30 days', now() + interval '90 days', now() + interval '30 days',
    now() + interval '30 days', now() + interval '15 days', '', '', false, ''
FROM generate_series(1, %(count)s) AS g
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with bench_database() as database_url:
        small, large = measure(database_url, args)
    print(f"sweep, {args.due} due among {args.small:>9,} open: {small:8.1f} ms")
    print(f"sweep, {args.due} due among {args.large:>9,} open: {large:8.1f} ms")
    print(f"ratio large/small: {large / small:8.3f}")


def measure(database_url: str, args: argparse.Namespace) -> tuple[float, float]:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="dsar.settings",
        DSAR_VAR_DIR=str(ROOT / "var" / "bench"),
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.utils import timezone

    from controllers.models import Controller
    from dsar.celery import app
    from dsar.intake import receive_request
    from dsar.models import Milestone, OutgoingMail, Request, State
    from dsar.tasks import sweep_deadlines

    app.conf.broker_url = "memory://"  # publishing is not what is measured
    try:
        call_command("migrate", verbosity=0)
        call_command("load_policies", stdout=open(os.devnull, "w"))  # noqa: SIM115
        controller = Controller.objects.get(slug="smart-site")
        past = timezone.now() - timezone.timedelta(days=40)
        due = [
            receive_request(
                controller=controller,
                right="access",
                name="Due",
                email=f"due{n}@example.org",
                language="nl",
                received_at=past,
            ).pk
            for n in range(args.due)
        ]
        Request.objects.filter(pk__in=due).update(state=State.IN_PROGRESS)

        def reset() -> None:
            Milestone.objects.filter(request_id__in=due).delete()
            OutgoingMail.objects.filter(request_id__in=due).delete()
            Request.objects.filter(pk__in=due).update(next_milestone_at=past)

        def timed() -> float:
            times = []
            for _ in range(args.runs):
                reset()
                start = time.perf_counter()
                sent = sweep_deadlines()
                times.append((time.perf_counter() - start) * 1000)
                assert sent == args.due * 5, sent  # five milestones each, all past
            return statistics.median(times)

        with connection.cursor() as cursor:
            cursor.execute(
                INSERT_NOT_DUE, {"offset": 0, "controller": controller.pk, "count": args.small}
            )
            cursor.execute("ANALYZE dsar_request")
        small = timed()
        with connection.cursor() as cursor:
            cursor.execute(
                INSERT_NOT_DUE,
                {
                    "offset": args.small,
                    "controller": controller.pk,
                    "count": args.large - args.small,
                },
            )
            cursor.execute("ANALYZE dsar_request")
        large = timed()
    finally:
        connections.close_all()
    return small, large


if __name__ == "__main__":
    main()
