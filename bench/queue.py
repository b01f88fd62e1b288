"""Queue render time: the officer's changelist against the stock changelist of the same model,
both over the same 100,000 cases on PostgreSQL, measured in the same run (DEBUG off).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.queue

It creates and drops its own database (bench.common). The pages are rendered by Django's test
client in this process: what is measured is the server's work, not HTTP.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    args = parser.parse_args()

    with bench_database() as database_url:
        stock, queue = measure(database_url, args)
    print(f"requests in the table     : {args.requests}")
    print(f"stock changelist (median) : {stock:8.1f} ms")
    print(f"officer queue (median)    : {queue:8.1f} ms")
    print(f"ratio queue/stock         : {queue / stock:8.3f}")


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
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client

    from bench.rows import clone_cases, confirmed_template
    from dsar.celery import app

    assert not settings.DEBUG, "measure what production runs"
    app.conf.broker_url = "memory://"  # the template's mail is not what is measured
    try:
        call_command("migrate", verbosity=0)
        call_command("load_policies", stdout=open(os.devnull, "w"))  # noqa: SIM115
        clone_cases(confirmed_template("Bulk"), args.requests - 1)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        admin = get_user_model().objects.create_superuser(
            "bench", "bench@example.org", "bench-pw-123"
        )
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(admin)

        def median_ms(url: str) -> float:
            for _ in range(3):  # warm-up
                assert client.get(url).status_code == 200
            times = []
            for _ in range(args.renders):
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            return statistics.median(times)

        stock = median_ms("/stock-admin/dsar/case/")
        queue = median_ms("/admin/dsar/case/")
    finally:
        connections.close_all()
    return stock, queue


if __name__ == "__main__":
    main()
