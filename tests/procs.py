"""Run real processes (web, Celery worker, beat) in tests and wait for what they print."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# How long a test waits for what takes seconds on an idle machine (a worker's start, a task's
# run, a processor's answer): never a limit the test measures. On a loaded two-core machine
# (CI, or the suite run twice at once) these take many times longer, and a wait that ends too
# early fails a test that is right. A limit that a test does measure is set by the test itself.
PATIENCE = 180.0

# Variables that would make a child use the developer's or CI's services or secrets.
_SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SECRET_KEY",
    "DSAR_DEMO",
    "DEBUG",
    "DSAR_VAR_DIR",
    "DSAR_ID_DOCUMENT_KEY",
    "DSAR_AUDIT_KEY",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DSAR_PROCESSOR_PORT",
    "DSAR_PROCESSOR_URL",
)


def demo_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh `make run`: nothing set but a private var/ folder."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["DSAR_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(
    args: Sequence[str], env: Mapping[str, str], timeout: float = 2 * PATIENCE
) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout
    )


def with_celery_app(code: str, env: Mapping[str, str]) -> str:
    """Run ``code`` with ``app`` bound to dsar's Celery app, in a process of ``env``; its stdout."""
    result = run([str(BIN / "python"), "-c", f"from dsar.celery import app; {code}"], env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def until(condition: Callable[[], object], what: str, timeout: float = PATIENCE) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_worker_runs_a_task(
    worker: Proc, env: Mapping[str, str], timeout: float = PATIENCE
) -> None:
    """Send Celery's built-in cleanup task through the broker and see the worker finish it."""
    with_celery_app("app.send_task('celery.backend_cleanup')", env)
    worker.wait_for(r"Task celery\.backend_cleanup\[[0-9a-f-]+\] succeeded", timeout=timeout)


class Proc:
    """A process group whose combined output is collected while it runs."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.output = ""
        self._lock = threading.Lock()
        self.popen = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group, so stop() reaches every child
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._lock:
                self.output += line

    def wait_for(self, pattern: str, timeout: float = PATIENCE) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            with self._lock:
                match = regex.search(self.output)
            if match:
                return match
            if self.popen.poll() is not None:
                time.sleep(0.2)  # let the reader drain what is left
                with self._lock:
                    match = regex.search(self.output)
                if match:
                    return match
                raise AssertionError(f"process exited before {pattern!r}:\n{self.output[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {pattern!r}:\n{self.output[-4000:]}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._reader.join(5)
        return self.popen.returncode

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        # Whatever the group left behind (a worker's pool children) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
