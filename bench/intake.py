"""Intake throughput: the request form's POST under gunicorn on PostgreSQL, against a bare
Django view that inserts one row, both measured in the same run on the same server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/15 \
        .venv/bin/python -m bench.intake [--requests 400] [--clients 8] [--existing 100000]

It fills the table with --existing cases first (intake must not slow down as they grow). It
creates (and afterwards drops) its own database, `<name>_bench_<pid>`, so it never touches the
database named in DATABASE_URL; mail tasks go to the Redis database of REDIS_URL and are purged.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import psycopg

from bench.common import bench_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingConnection(http.client.HTTPConnection):
    """Counts the TCP connections it opens: a keep-alive client opens one."""

    opened = 0

    def connect(self) -> None:
        CountingConnection.opened += 1
        super().connect()


class Client:
    """One keep-alive HTTP connection with its own CSRF cookie, as a browser would have."""

    def __init__(self, port: int) -> None:
        self.conn = CountingConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", "/c/smart-site/request/")
        response = self.conn.getresponse()
        body = response.read().decode()
        cookie = response.getheader("Set-Cookie", "")
        self.csrf_cookie = re.search(r"csrftoken=([^;]+)", cookie).group(1)
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)

    def post(self, path: str, fields: dict[str, str]) -> int:
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, **fields})
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={self.csrf_cookie}",
        }
        self.conn.request("POST", path, body, headers)
        response = self.conn.getresponse()
        response.read()
        return response.status


def run_load(port: int, path: str, count: int, clients: int, expect: int) -> float:
    """Send `count` POSTs from `clients` threads; return requests per second."""
    per_client = count // clients
    connections = [Client(port) for _ in range(clients)]
    CountingConnection.opened = 0
    failures: list[int] = []

    def work(client: Client, index: int) -> None:
        for number in range(per_client):
            fields = {
                "right": "access",
                "name": f"Bench {index}-{number}",
                "email": f"bench{index}-{number}@example.org",
                "details": "",
            }
            status = client.post(path, fields)
            if status != expect:
                failures.append(status)

    threads = [
        threading.Thread(target=work, args=(client, i)) for i, client in enumerate(connections)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{path}: {len(failures)} unexpected statuses, e.g. {failures[:5]}")
    if CountingConnection.opened:
        # A new TCP connection per request would measure the handshake, not the view.
        reopened = CountingConnection.opened
        raise SystemExit(f"{path}: the server closed keep-alive connections {reopened} times")
    return per_client * clients / elapsed


def measure(database_url: str, args: argparse.Namespace) -> tuple[float, float]:
    """Serve the bench settings with gunicorn on the given database; return both rates."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DSAR_VAR_DIR": args.var_dir,
    }
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "load_policies"], cwd=ROOT, env=env, check=True, capture_output=True)
    if args.existing:
        # Intake at scale: the duplicate lookup must not read the cases already there.
        subprocess.run(
            [str(BIN / "python"), "-m", "bench.fill", str(args.existing)],
            cwd=ROOT,
            env=env,
            check=True,
        )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_row (id bigserial PRIMARY KEY, payload text)")
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "bench.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            # Threaded workers keep connections alive (gunicorn's sync workers close each one).
            "--worker-class",
            "gthread",
            "--threads",
            str(args.clients),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        # Warm up both paths (imports, connections, template caches) before measuring.
        run_load(port, "/bench/bare/", args.clients * 5, args.clients, 204)
        run_load(port, "/c/smart-site/request/", args.clients * 5, args.clients, 302)
        bare = run_load(port, "/bench/bare/", args.requests, args.clients, 204)
        intake = run_load(port, "/c/smart-site/request/", args.requests, args.clients, 302)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        subprocess.run(
            [str(BIN / "celery"), "-A", "dsar", "purge", "-f"],
            cwd=ROOT,
            env=env,
            capture_output=True,
        )
    return bare, intake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench"))
    parser.add_argument(
        "--existing", type=int, default=100_000, help="cases in the table before it measures"
    )
    args = parser.parse_args()

    with bench_database() as database_url:
        bare, intake = measure(database_url, args)
    print(f"cases in the table: {args.existing}")
    print(f"bare insert view : {bare:8.1f} requests/s")
    print(f"intake form POST : {intake:8.1f} requests/s")
    print(f"ratio intake/bare: {intake / bare:8.3f}")


if __name__ == "__main__":
    main()
