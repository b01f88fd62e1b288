"""A stand-in for a processor's API, so that the demo has a system reached over HTTP.

It speaks the protocol ``fulfilment.systems.connectors.http`` expects, as a real processor would: it
takes a signed request, answers "pending", finishes a moment later, calls the controller's
callback (signed), and serves the results as JSON lines. A request that changes data is
carried out on its dataset: an erasure deletes the person's rows, a rectification writes the
corrected values into the declared rectifiable fields, a restriction, an objection or a
withdrawal of consent is marked for the person (the stub has nothing else to stop); once done,
it says how many of the person's records it acted on (``affected_records``; 0: it held none).
Its data is a SQLite file per dataset (``var/systems/processor-<dataset>.sqlite3``, built by
``demo.people``); which datasets exist, their tables and their secrets come from the HTTP
systems of the registry whose ``demo_url`` is ``{processor}/<dataset>``. Requests are kept in a
SQLite file too, so a restart loses none.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import orjson

from controllers.models import System, SystemKind
from controllers.systems import SystemSpec, spec_of
from fulfilment.systems.connectors.http import SIGNATURE, secret_for, sign, verify

PREFIX = "{processor}/"


@dataclass(frozen=True)
class Dataset:
    name: str
    spec: SystemSpec
    secret: bytes
    path: Path


def datasets(folder: Path) -> dict[str, Dataset]:
    """The registry's HTTP systems served by this stub in the demo."""
    found = {}
    for system in System.objects.filter(kind=SystemKind.HTTP):
        spec = spec_of(system.spec)
        if spec.demo_url.startswith(PREFIX):
            name = spec.demo_url.removeprefix(PREFIX).strip("/")
            path = folder / f"processor-{name}.sqlite3"
            found[name] = Dataset(name, spec, secret_for(spec), path)
    return found


class Processor:
    """The WSGI application."""

    def __init__(
        self, datasets: dict[str, Dataset], state: Path, public_url: str, delay: float = 1.0
    ) -> None:
        self.datasets = datasets
        self.public_url = public_url.rstrip("/")
        self.delay = delay
        self.state = state
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS requests (id TEXT PRIMARY KEY, dataset TEXT, "
                "kind TEXT, email TEXT, callback TEXT, status TEXT, created_at REAL)"
            )
            # Added later: a state file of an earlier run gains them.
            have = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
            for column, kind in (("corrections", "TEXT"), ("affected", "INTEGER")):
                if column not in have:
                    db.execute(f"ALTER TABLE requests ADD COLUMN {column} {kind}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS marks (dataset TEXT, email TEXT, kind TEXT, "
                "at REAL, PRIMARY KEY (dataset, email, kind))"
            )

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.state, timeout=10)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        parts = [p for p in path.split("/") if p]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        signature = environ.get("HTTP_" + SIGNATURE.upper().replace("-", "_"), "")
        try:
            dataset = self.datasets[parts[0]]
            if parts[1:4] != ["opendsr", "v1", parts[3]]:
                raise KeyError(path)
        except (IndexError, KeyError):
            return _reply(start_response, 404, {"error": "not found"})
        payload = body if method == "POST" else f"{method} {path}".encode()
        if not verify(dataset.secret, payload, signature):
            return _reply(start_response, 403, {"error": "bad signature"})
        if method == "POST" and parts[3] == "requests" and len(parts) == 4:
            return self._create(start_response, dataset, body)
        if method == "GET" and parts[3] == "requests" and len(parts) == 5:
            return self._status(start_response, dataset, parts[4])
        if method == "GET" and parts[3] == "results" and len(parts) == 5:
            return self._results(start_response, dataset, parts[4])
        return _reply(start_response, 404, {"error": "not found"})

    def _create(self, start_response: Any, dataset: Dataset, body: bytes) -> list[bytes]:
        try:
            request = orjson.loads(body)
            request_id = str(request["subject_request_id"])
            email = next(
                i["identity_value"]
                for i in request["identities"]
                if i.get("identity_type") == "email"
            )
            callback = (request.get("status_callback_urls") or [""])[0]
            corrections = [
                {"table": str(c["table"]), "column": str(c["column"]), "value": str(c["value"])}
                for c in request.get("corrections") or ()
            ]
        except (orjson.JSONDecodeError, KeyError, TypeError, StopIteration):
            return _reply(start_response, 400, {"error": "not an OpenDSR request"})
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO requests (id, dataset, kind, email, callback, status, "
                "created_at, corrections) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    request_id,
                    dataset.name,
                    request.get("subject_request_type", ""),
                    email,
                    callback,
                    time.time(),
                    orjson.dumps(corrections).decode(),
                ),
            )
        threading.Thread(target=self._finish, args=(dataset, request_id), daemon=True).start()
        now = dt.datetime.now(dt.UTC)
        return _reply(
            start_response,
            201,
            {
                "subject_request_id": request_id,
                "request_status": "pending",
                "received_time": now.isoformat(),
                "expected_completion_time": (now + dt.timedelta(seconds=self.delay)).isoformat(),
            },
        )

    def _finish(self, dataset: Dataset, request_id: str) -> None:
        time.sleep(self.delay)
        with self._db() as db:
            found = db.execute(
                "SELECT kind, email, status, corrections FROM requests WHERE id = ?",
                (request_id,),
            ).fetchone()
            if found and found[2] != "completed" and found[0] != "access":
                kind, email = found[0], found[1]
                affected = self._change(db, dataset, kind, email, orjson.loads(found[3] or "[]"))
                db.execute("UPDATE requests SET affected = ? WHERE id = ?", (affected, request_id))
            db.execute("UPDATE requests SET status = 'completed' WHERE id = ?", (request_id,))
            row = db.execute("SELECT callback FROM requests WHERE id = ?", (request_id,)).fetchone()
        if not row or not row[0]:
            return
        body = orjson.dumps(
            {
                "subject_request_id": request_id,
                "request_status": "completed",
                "results_url": self._results_url(dataset, request_id),
            }
        )
        # The controller also polls: a lost callback only delays it.
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                row[0], content=body, headers={SIGNATURE: sign(dataset.secret, body)}, timeout=10
            )

    def _change(
        self,
        state: sqlite3.Connection,
        dataset: Dataset,
        kind: str,
        email: str,
        corrections: list[dict[str, str]],
    ) -> int:
        """Carry out a request that changes data, as a processor would; how many of the
        person's records it acted on (0: it held none)."""
        db = sqlite3.connect(dataset.path)
        try:
            with db:
                held = 0
                for table in dataset.spec.tables:
                    column = table.identities["email"]
                    # Declared names only (the registry's systems file).
                    where = f"lower({column}) = lower(?)"
                    if kind == "erasure":
                        sql = f'DELETE FROM "{table.name}" WHERE {where}'  # noqa: S608
                        held += db.execute(sql, (email,)).rowcount
                        continue
                    sql = f'SELECT count(*) FROM "{table.name}" WHERE {where}'  # noqa: S608
                    rows = db.execute(sql, (email,))
                    mine = rows.fetchone()[0]
                    held += mine
                    if kind != "rectification" or not mine:
                        continue
                    for correction in corrections:
                        declared = correction["table"] == table.name and any(
                            c.name == correction["column"] and c.rectifiable for c in table.columns
                        )
                        if declared:
                            db.execute(
                                f'UPDATE "{table.name}" SET "{correction["column"]}" = ? '  # noqa: S608
                                f"WHERE {where}",
                                (correction["value"], email),
                            )
        finally:
            db.close()
        if kind in ("restriction", "objection", "withdraw_consent"):
            state.execute(
                "INSERT OR REPLACE INTO marks VALUES (?, ?, ?, ?)",
                (dataset.name, email.lower(), kind, time.time()),
            )
        elif kind == "restriction_lift":
            state.execute(
                "DELETE FROM marks WHERE dataset = ? AND email = ? AND kind = 'restriction'",
                (dataset.name, email.lower()),
            )
        return held

    def _results_url(self, dataset: Dataset, request_id: str) -> str:
        return f"{self.public_url}/{dataset.name}/opendsr/v1/results/{request_id}"

    def _request(self, dataset: Dataset, request_id: str) -> tuple[str, str, int | None] | None:
        with self._db() as db:
            row = db.execute(
                "SELECT status, email, affected FROM requests WHERE id = ? AND dataset = ?",
                (request_id, dataset.name),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def _status(self, start_response: Any, dataset: Dataset, request_id: str) -> list[bytes]:
        found = self._request(dataset, request_id)
        if found is None:
            return _reply(start_response, 404, {"error": "unknown request"})
        answer: dict[str, Any] = {"subject_request_id": request_id, "request_status": found[0]}
        if found[0] == "completed":
            answer["results_url"] = self._results_url(dataset, request_id)
            if found[2] is not None:
                answer["affected_records"] = found[2]
        return _reply(start_response, 200, answer)

    def _results(self, start_response: Any, dataset: Dataset, request_id: str) -> Iterator[bytes]:
        found = self._request(dataset, request_id)
        if found is None or found[0] != "completed":
            return iter(_reply(start_response, 404, {"error": "no results"}))
        start_response("200 OK", [("Content-Type", "application/x-ndjson")])
        return self._lines(dataset, found[1])

    def _lines(self, dataset: Dataset, email: str) -> Iterator[bytes]:
        db = sqlite3.connect(f"{dataset.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            for table in dataset.spec.tables:
                column = table.identities["email"]
                names = [c.name for c in table.columns]
                cursor = db.execute(
                    f'SELECT {", ".join(names)} FROM "{table.name}" '  # noqa: S608 - declared
                    f"WHERE lower({column}) = lower(?)",
                    (email,),
                )
                for row in cursor:
                    yield (
                        orjson.dumps(
                            {"table": table.name, "row": dict(zip(names, row, strict=True))}
                        )
                        + b"\n"
                    )
        finally:
            db.close()


def _reply(start_response: Any, status: int, body: dict[str, Any]) -> list[bytes]:
    reasons = {200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
    start_response(f"{status} {reasons[status]}", [("Content-Type", "application/json")])
    return [orjson.dumps(body)]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(app: Processor, host: str, port: int) -> _Server:
    """A threaded server for the app (the caller runs serve_forever, or a thread does)."""
    return make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
