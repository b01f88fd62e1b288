"""Queue render time: the officer's changelist against the stock changelist of the same model,
both over the same 100,000 requests on PostgreSQL, measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.queue

It creates and drops its own database, `<name>_bench`.
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
        DSAR_VAR_DIR=str(ROOT / "var" / "bench"),
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client

    from controllers.models import Controller
    from tests.test_admin_queue import _bulk_requests

    try:
        call_command("migrate", verbosity=0)
        call_command("load_policies", stdout=open(os.devnull, "w"))  # noqa: SIM115
        _bulk_requests(Controller.objects.get(slug="smart-site"), args.requests)
        call_command(
            "shell",
            command="from django.db import connection; connection.cursor().execute('ANALYZE')",
        )
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

        stock = median_ms("/stock-admin/dsar/request/")
        queue = median_ms("/admin/dsar/request/")
    finally:
        connections.close_all()
    return stock, queue


if __name__ == "__main__":
    main()
