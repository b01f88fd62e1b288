"""What the benchmarks share: a PostgreSQL database of their own, created and dropped."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg


@contextmanager
def bench_database() -> Iterator[str]:
    """Create `<name>_bench_<pid>` next to DATABASE_URL's database; yield its URL; drop it after.

    The benchmark never touches the database DATABASE_URL names, and two benchmarks (or two
    test workers running their smoke tests) never share one.
    """
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    parsed = urllib.parse.urlparse(base)
    name = f"{parsed.path.lstrip('/') or 'postgres'}_bench_{os.getpid()}"
    maintenance = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def profiled(function: Callable[..., Any], top: int, *args: Any, **kwargs: Any) -> str:
    """``function(*args, **kwargs)`` run under cProfile: its ``top`` most expensive functions
    by their own time, then by their cumulative time."""
    profiler = cProfile.Profile()
    profiler.runcall(function, *args, **kwargs)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()
