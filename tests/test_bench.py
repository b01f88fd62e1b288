"""Each benchmark runs end to end at a tiny size, so a change that breaks one fails here, not
months later when someone measures (the sweep benchmark once rotted unseen).

They need PostgreSQL (each creates and drops a database of its own) and, for intake, Redis:
CI runs them; without the services they are skipped with the reason.
"""

from __future__ import annotations

import os
import re

import pytest

from .conftest import require_service
from .procs import BIN, demo_env, run

BENCHES = {
    "erase": ["--orders", "50", "--lines", "3", "--people", "20", "--runs", "1", "--profile", "5"],
    "intake": ["--requests", "24", "--clients", "3", "--workers", "1", "--existing", "200"],
    "intake_profile": ["--posts", "5", "--existing", "200"],
    "queue": ["--requests", "300", "--renders", "2"],
    "report": [
        "--events",
        "20",
        "--big",
        "40",
        "--small",
        "20",
        "--large",
        "200",
        "--runs",
        "1",
        "--profile",
        "5",
    ],
    "sweep": ["--small", "50", "--large", "500", "--due", "3", "--runs", "1"],
}


@pytest.fixture
def postgres() -> str:
    url = os.environ.get("DATABASE_URL", "")
    require_service(url.startswith(("postgres://", "postgresql://")), "DATABASE_URL is not set")
    return url


@pytest.mark.parametrize("name", list(BENCHES))
def test_the_benchmark_runs_and_prints_its_ratio(name, postgres, tmp_path, request):
    env = demo_env(tmp_path, DATABASE_URL=postgres)
    if name.startswith("intake"):
        # This test process's own Redis database: the benchmark purges its queue when it ends.
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    result = run(
        [str(BIN / "python"), "-m", f"bench.{name}", *BENCHES[name], "--var-dir", str(tmp_path)],
        env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    ratio = re.search(r"^ratio [^:]+:\s+([0-9.]+)$", result.stdout, re.M)
    assert ratio, result.stdout
    assert float(ratio.group(1)) > 0
