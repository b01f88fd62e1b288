"""The export benchmark (bench/export.py) runs end to end at a tiny size, as the others do in
tests/test_bench.py: a change to the connector, the stage or the package that breaks it fails
here, not when someone next measures a million rows.

It needs PostgreSQL (it creates and drops a database of its own): CI runs it; without
PostgreSQL it is skipped with the reason.
"""

from __future__ import annotations

import os
import re

from .conftest import require_service, tcp_reachable
from .procs import BIN, demo_env, run


def test_the_export_benchmark_runs_and_prints_its_ratios(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    require_service(url.startswith(("postgres://", "postgresql://")), "DATABASE_URL is not set")
    require_service(tcp_reachable(url, 5432), f"PostgreSQL at {url} is not reachable")
    env = demo_env(tmp_path, DATABASE_URL=url)
    args = ["--rows", "2000", "--others", "20", "--runs", "1", "--var-dir", str(tmp_path)]
    result = run([str(BIN / "python"), "-m", "bench.export", *args], env, timeout=300)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    ratios = dict(re.findall(r"^ratio ([^:]+?)\s*:\s+([0-9.]+)$", result.stdout, re.M))
    assert set(ratios) == {"search+stage/COPY", "zip/COPY", "export/COPY"}, result.stdout
    assert all(float(value) > 0 for value in ratios.values()), result.stdout
    assert re.search(r"^rows of the subject\s*:\s+2,000 ", result.stdout, re.M), result.stdout
    # The staged rows and the ZIP are personal data in a real run: nothing is left behind.
    assert not list(tmp_path.glob("export-*")), list(tmp_path.iterdir())
