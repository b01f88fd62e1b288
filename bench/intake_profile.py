"""Where one intake POST spends its time: the profile beside bench/intake's figure.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/15 \
        .venv/bin/python -m bench.intake_profile [--posts 300] [--existing 100000]

In one process, with Django's test client (no server, no network between client and view):
first the bare insert and the intake POST timed without a profiler (their ratio is what is left
when the server's share is taken out), then the intake POST under cProfile, its time split into
the steps that make it up. The profiler slows Python more than it slows the database, so read
the shares, not the milliseconds, of the second table.

Like bench/intake it works in a database of its own, filled with --existing cases first, and
purges the mail tasks it published to REDIS_URL's database.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import bench_database

ROOT = Path(__file__).resolve().parent.parent

# (label, file the function is defined in, function name): cumulative time of each, per POST.
# Nested steps are indented; a step's time includes the steps under it.
STEPS: list[tuple[str, str, str]] = [
    ("whole POST (view)", "public/views.py", "request_form"),
    ("  form validation", "django/forms/forms.py", "is_valid"),
    ("  rate limit (Redis)", "public/views.py", "_admit"),
    ("  receive_case", "cases/intake.py", "receive_case"),
    ("    duplicate lookup", "cases/intake.py", "earlier_open_case"),
    ("    policy in force", "controllers/policy.py", "in_force"),
    ("    deadlines", "cases/models/case.py", "recompute_deadlines"),
    ("    reference number", "cases/intake.py", "next_reference"),
    ("    audit event and head", "cases/audit.py", "record_event"),
    ("    mail row", "cases/mail.py", "queue_mail"),
    ("    COMMIT", "django/db/backends/base/base.py", "commit"),
    ("    publish the mail task", "cases/mail.py", "_enqueue"),
]


def step_times(stats: pstats.Stats, posts: int) -> list[tuple[str, float]]:
    """Milliseconds per POST for each of STEPS, from the profile's cumulative times."""
    table = stats.stats  # type: ignore[attr-defined]  # (file, line, name) -> (cc, nc, tt, ct, callers)
    times = []
    for label, path, name in STEPS:
        total = sum(
            row[3]
            for (file, _line, function), row in table.items()
            if function == name and file.replace(os.sep, "/").endswith(path)
        )
        times.append((label, total / posts * 1000))
    return times


def timed(function: Callable[[int], None], start: int, count: int) -> float:
    """Mean milliseconds of one call."""
    began = time.perf_counter()
    for number in range(start, start + count):
        function(number)
    return (time.perf_counter() - began) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--existing", type=int, default=100_000)
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args()

    with bench_database() as url:
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="bench.settings",
            DSAR_VAR_DIR=args.var_dir,
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        )
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections
        from django.test import Client

        with open(os.devnull, "w") as quiet:
            call_command("migrate", verbosity=0)
            call_command("load_policies", stdout=quiet)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_row (id bigserial PRIMARY KEY, payload text)")
        subprocess.run(
            [sys.executable, "-m", "bench.fill", str(args.existing)], check=True, env=os.environ
        )
        client = Client(HTTP_HOST="127.0.0.1")

        def intake(number: int) -> None:
            fields = {
                "right": "access",
                "name": f"Bench {number}",
                "email": f"bench{number}@example.org",
                "details": "",
            }
            response = client.post("/c/smart-site/request/", fields)
            if response.status_code != 302:
                raise SystemExit(f"intake answered {response.status_code}")

        def bare(number: int) -> None:
            if client.post("/bench/bare/", {"name": f"Bench {number}"}).status_code != 204:
                raise SystemExit("the bare view failed")

        timed(intake, 0, 30)  # warm-up: connections, caches, imports
        timed(bare, 0, 30)
        bare_ms = timed(bare, 100, args.posts)
        intake_ms = timed(intake, 100, args.posts)

        profiler = cProfile.Profile()
        profiler.enable()
        timed(intake, 100 + args.posts, args.posts)
        profiler.disable()
        steps = step_times(pstats.Stats(profiler), args.posts)
        connections.close_all()
        from dsar.celery import app

        app.control.purge()  # the mail tasks published above: no worker is meant to send them

    print(f"cases in the table: {args.existing}, {args.posts} POSTs each, in one process")
    print(f"bare insert view : {bare_ms:8.2f} ms")
    print(f"intake form POST : {intake_ms:8.2f} ms")
    # As bench/intake's ratio: requests a second of intake over those of the bare view.
    print(f"ratio intake/bare: {bare_ms / intake_ms:8.3f}")
    print("\nunder cProfile, per POST (shares of the whole POST):")
    whole = steps[0][1]
    for label, ms in steps:
        print(f"  {label:<34} {ms:7.2f} ms  {ms / whole:6.1%}")
    named = sum(ms for label, ms in steps if label.startswith("    "))
    receive = dict(steps)["  receive_case"]
    rest = receive - named
    print(f"  {'    the case row, and the rest':<34} {rest:7.2f} ms  {rest / whole:6.1%}")
    missing = [label.strip() for label, ms in steps if ms == 0]
    if missing:
        # A step renamed or moved would silently read 0: the profile must be kept in step.
        raise SystemExit(f"steps not found in the profile (renamed?): {', '.join(missing)}")


if __name__ == "__main__":
    main()
