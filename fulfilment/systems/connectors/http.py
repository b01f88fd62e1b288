"""The HTTP connector: a processor's or SaaS API, spoken to in the shape of OpenDSR.

The controller names each request (``subject_request_id``, a UUID it keeps, so asking twice is
asking once) and posts it with the subject's identities and a callback URL::

    POST {base}/opendsr/v1/requests        -> 201 {"request_status": "pending", ...}
    GET  {base}/opendsr/v1/requests/{id}   -> {"request_status": "pending" | "in_progress"
                                               | "completed" | "cancelled", "results_url": ...}
    GET  {results_url}                     -> JSON lines: {"table": "...", "row": {...}}

A request that changes data (``subject_request_type`` erasure, restriction, restriction_lift,
objection, withdraw_consent, rectification) is polled the same way; a rectification carries
``"corrections": [{"table", "column", "value"}]``, the corrected values of the processor's
fields its systems file declares rectifiable. Beyond OpenDSR, a completed change may say what
it found: ``"affected_records": n``, how many of the subject's records it acted on (0: it held
none). A processor that does not say has not shown that it held anything
(``fulfilment.changes.completion.effect``).

Every call carries ``X-OpenDSR-Signature``: the hex HMAC-SHA256, under the system's secret, of
the body (a GET: of ``"GET " + path``); the processor's callbacks are signed the same way and
refused otherwise. Results are read as a stream, only declared tables and columns are kept,
every row is checked against the identity, and results are only fetched from the system's own
address. A fault (no answer, an error status, garbage) is a ``ConnectorError``: the search
retries it on its schedule.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from django.conf import settings

from controllers.systems import SystemSpec, TableSpec

from .base import (
    Batch,
    Connector,
    ConnectorError,
    Identities,
    Now,
    Number,
    Work,
    check_rows,
    number_json,
    setting,
)

SIGNATURE = "X-OpenDSR-Signature"
API_VERSION = "1.0"
BATCH = 1000
# The most an answer to a call, or one line of results, may hold.
MAX_ANSWER = 1 << 20
MAX_LINE = 16 << 20
# A batch is handed on at BATCH rows or this many bytes, whichever comes first; all the results
# of one search may hold at most MAX_RESULTS bytes (staged on disk, then packaged).
BATCH_BYTES = 8 << 20
MAX_RESULTS = 4 << 30
# Bodies are read as sent: a compressed answer (a "decompression bomb") is refused, never
# inflated, so the limits above count what reaches memory.
NO_ENCODING = {"Accept-Encoding": "identity"}

# A processor's answer to a call: a JSON object.
Answer = dict[str, Any]


def sign(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def verify(secret: bytes, payload: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, payload).encode(), signature.strip().encode())


def secret_for(spec: SystemSpec) -> bytes:
    """The system's signing key: its environment variable; in the demo, when unset, one derived
    from the site's secret (the demo processor, run with the same settings, derives it too)."""
    value = setting(spec, "secret_env", required=not settings.DEMO)
    if value:
        return value.encode()
    return (
        hmac.new(
            settings.SECRET_KEY.encode(), f"processor:{spec.secret_env}".encode(), hashlib.sha256
        )
        .hexdigest()
        .encode()
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def _raw(response: httpx.Response) -> Iterator[bytes]:
    """The body's bytes as sent; a body the server compressed anyway is refused."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ConnectorError(f"the processor sent a {encoding[:20]!r}-encoded body, not asked for")
    return response.iter_raw()


class HttpConnector(Connector):
    """A processor's API: ask it (``submit``), ask whether it has finished (``status``), read
    what it found (``results``). The job around it (``jobs.JobKind.by_http``) asks once, then
    polls."""

    def __init__(self, spec: SystemSpec) -> None:
        super().__init__(spec)
        self.base = setting(spec, "url_env", "demo_url").rstrip("/")
        parts = urlsplit(self.base)
        if parts.scheme not in ("http", "https"):
            raise ConnectorError(f"the URL in {spec.url_env} is not an http(s) URL")
        if parts.username or parts.password:
            # Credentials in a URL end up in errors, events and mails: the secret is the key.
            raise ConnectorError(f"the URL in {spec.url_env} carries a user name or password")
        # What errors name: the host, never the whole URL.
        self.host = parts.netloc
        self.secret = secret_for(spec)
        self.timeout = httpx.Timeout(spec.timeout_seconds)

    def serve(self, work: Work, job: Any, now: Now) -> None:
        work.by_http(job, self, now)

    def _call(self, method: str, url: str, body: bytes = b"") -> bytes:
        payload = body if method == "POST" else f"{method} {urlsplit(url).path}".encode()
        headers = {
            SIGNATURE: sign(self.secret, payload),
            "Content-Type": "application/json",
            **NO_ENCODING,
        }
        slow = f"no answer within {self.spec.timeout_seconds} seconds from {self.host}"
        # The whole answer within the limit: httpx's timeout is per read, and a server that
        # trickles out a byte at a time would pass every read's timeout, forever.
        deadline = time.monotonic() + self.spec.timeout_seconds
        try:
            with httpx.stream(
                method, url, content=body or None, headers=headers, timeout=self.timeout
            ) as response:
                if not response.is_success:  # a redirect is no answer either
                    raise ConnectorError(f"the processor answered HTTP {response.status_code}")
                content = bytearray()
                for chunk in _raw(response):
                    content += chunk
                    if time.monotonic() > deadline:
                        raise ConnectorError(slow)
                    if len(content) > MAX_ANSWER:
                        raise ConnectorError("the processor's answer is too long")
                return bytes(content)
        except httpx.TimeoutException:
            raise ConnectorError(slow) from None
        except httpx.HTTPError as error:
            raise ConnectorError(f"cannot reach {self.host}: {type(error).__name__}") from None

    @staticmethod
    def _json(content: bytes) -> dict[str, Any]:
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ConnectorError("the processor answered something that is not JSON") from None
        if not isinstance(answer, dict):
            raise ConnectorError("the processor's answer is not a JSON object")
        return answer

    def submit(
        self,
        *,
        request_id: str,
        kind: str,
        identities: Identities,
        callback_url: str,
        corrections: list[dict[str, str]] | None = None,
    ) -> Answer:
        """Ask the processor; a rectification carries the corrected values of its fields
        (``corrections``: table, column, value)."""
        request: dict[str, Any] = {
            "subject_request_id": request_id,
            "subject_request_type": kind,
            "identities": [
                {"identity_type": k, "identity_format": "raw", "identity_value": v}
                for k, v in identities.items()
            ],
            # No callback: the controller polls (a change's progress needs none).
            "status_callback_urls": [callback_url] if callback_url else [],
            "api_version": API_VERSION,
        }
        if corrections:
            request["corrections"] = corrections
        body = orjson.dumps(request)
        return self._json(self._call("POST", f"{self.base}/opendsr/v1/requests", body))

    def status(self, request_id: str) -> Answer:
        answer = self._json(self._call("GET", f"{self.base}/opendsr/v1/requests/{request_id}"))
        if answer.get("subject_request_id") not in (None, request_id):
            raise ConnectorError("the processor answered about another request")
        return answer

    def results(self, url: str, identities: Identities) -> Iterator[Batch]:
        """The results as batches of declared tables, each row checked against the identity."""
        if not isinstance(url, str) or _origin(url) != _origin(self.base):
            raise ConnectorError("the processor offered results from another address")
        tables = {table.name: table for table in self.spec.tables}
        pending: dict[str, list[tuple[Any, ...]]] = {}
        payload = f"GET {urlsplit(url).path}".encode()
        sizes: dict[str, int] = {}
        total = 0
        headers = {SIGNATURE: sign(self.secret, payload), **NO_ENCODING}
        try:
            with httpx.stream("GET", url, headers=headers, timeout=self.timeout) as response:
                if not response.is_success:  # a redirect is not an empty result
                    raise ConnectorError(f"the processor answered HTTP {response.status_code}")
                for line in _lines(response, self.spec.timeout_seconds):
                    total += len(line)
                    if total > MAX_RESULTS:
                        raise ConnectorError("the results are larger than a search may hold")
                    table, row = _parse(line, tables)
                    rows = pending.setdefault(table.name, [])
                    rows.append(row)
                    sizes[table.name] = sizes.get(table.name, 0) + len(line)
                    if len(rows) >= BATCH or sizes[table.name] >= BATCH_BYTES:
                        yield self._checked(table, rows, identities)
                        pending[table.name] = []
                        sizes[table.name] = 0
        except httpx.TimeoutException:
            raise ConnectorError(
                f"the results stopped coming for {self.spec.timeout_seconds} seconds"
            ) from None
        except httpx.HTTPError as error:
            raise ConnectorError(f"reading the results failed: {type(error).__name__}") from None
        for name, rows in pending.items():
            if rows:
                yield self._checked(tables[name], rows, identities)

    @staticmethod
    def _checked(table: TableSpec, rows: list[tuple[Any, ...]], identities: Identities) -> Batch:
        check_rows(table, rows, identities)
        return Batch(table, rows)


def _lines(response: httpx.Response, seconds: int) -> Iterator[bytes]:
    """The body's lines that are not blank, each within ``seconds`` of the one before: blank
    lines trickled out, or a line that never ends, would pass every read's timeout."""
    deadline = time.monotonic() + seconds
    pending = bytearray()
    for chunk in _raw(response):
        if b"\n" in chunk:
            *lines, rest = (pending + chunk).split(b"\n")
            pending = bytearray(rest)
            for line in lines:
                if len(line) > MAX_LINE:
                    raise ConnectorError("the results hold a line too long to be a row")
                if line.strip():
                    yield bytes(line)
                    deadline = time.monotonic() + seconds
        else:
            pending += chunk
        if len(pending) > MAX_LINE:
            raise ConnectorError("the results hold a line too long to be a row")
        if time.monotonic() > deadline:
            raise ConnectorError(f"the results stopped coming for {seconds} seconds")
    if pending.strip():
        yield bytes(pending)


def _dumps(value: Any) -> bytes:
    """JSON text of a parsed value, its numbers as they were sent."""
    return orjson.dumps(value, default=number_json)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _exact(line: bytes) -> Any:
    """A line parsed with every number that is not a 64-bit integer kept as its text (a
    ``Number``): orjson reads 54.50 as the float 54.5, 0.1000000000000000055 as 0.1 and
    18446744073709551616 as 1.8446744073709552e+19, and refuses 1e400. Python's parser hands over
    each number's text; integers in 64 bits stay ints."""
    return json.loads(line, parse_float=Number, parse_int=_integer, parse_constant=_refuse_constant)


def _integer(text: str) -> int | Number:
    """An integer as an int where orjson writes it back (64 bits), else as its text (and
    never through int(): Python refuses to read one of over 4,300 digits)."""
    if len(text) <= 20:
        value = int(text)
        if -(1 << 63) <= value < (1 << 64):
            return value
    return Number(text)


def _inexact(value: Any) -> bool:
    """Whether orjson's reading of a value may differ from the number the processor sent: a
    float, or a structure (whose numbers may be floats)."""
    return type(value) in (float, dict, list)


def _parse(line: bytes, tables: dict[str, TableSpec]) -> tuple[TableSpec, tuple[Any, ...]]:
    # orjson first (fast, and strict about the text: invalid UTF-8 and lone surrogates are
    # refused); the rare line with a number orjson cannot hold exactly is read again.
    try:
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            item = _exact(line)  # 1e400: a number orjson refuses, and JSON allows
            _dumps(item)  # the strictness orjson's parse has (no lone surrogate)
        else:
            row = item.get("row") if isinstance(item, dict) else None
            if isinstance(row, dict) and any(map(_inexact, row.values())):
                item = _exact(line)
    except (ValueError, RecursionError, orjson.JSONEncodeError):
        raise ConnectorError("the results hold a line that is not JSON") from None
    if not isinstance(item, dict) or not isinstance(item.get("row"), dict):
        raise ConnectorError('the results hold a line that is not {"table": ..., "row": {...}}')
    name = item.get("table")
    table = tables.get(name) if isinstance(name, str) else None
    if table is None:
        raise ConnectorError(
            f"the results name a table that is not declared: {item.get('table')!r}"
        )
    row = item["row"]
    values = []
    for column in table.columns:
        value = row.get(column.name)
        if isinstance(value, dict | list):
            value = _dumps(value).decode()  # a structure is kept, as its JSON text
        values.append(value)
    return table, tuple(values)
