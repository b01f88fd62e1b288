"""The package the subject downloads: built from the finished searches, reviewed, released.

When the officer prepares the response to an access or portability request (every search
settled), the package is built in a Celery task: a ZIP streamed straight into a sealed file
(``vault``), never held in memory. For access it holds ``index.html`` (readable offline, in the
subject's language: a summary, then each system's data as tables with each field's category and
purpose), the Art. 15(1) letter as HTML and PDF, ``data/<system>/<table>.json`` and ``.csv`` for
every table, the files rows name, manual exports, and ``manifest.json`` with the SHA-256 of every
file. For portability: ``portability/<system>/<table>.json`` and ``.csv`` with only the columns
the subject provided. What the officer withheld (a record, a field) is left out of every file and
counted in the letter. Releasing is the ``complete`` step; the download is ``delivery``'s.

Every value is written as the system holds it (Art. 15(3) asks for a copy, Art. 20 for the data
itself): read as the database holds it (``connectors.sql._read``), or as the processor's JSON
says it (``connectors.http``), and staged once (``staging.exact``) into the JSON and the CSV the
package takes byte for byte. A JSON number is exact text, so a number stays a number with the
system's digits; where JSON has no number for a value, it is a string, said here:

- NULL: ``null`` in the JSON; nothing in the CSV, where an empty text is ``""`` (as PostgreSQL's
  ``COPY ... CSV`` writes them; in a table of one column, whose empty line readers would skip,
  both are ``""``).
- Text: a JSON string; the CSV's text, quoted only where CSV needs it.
- Integers: a JSON number with all their digits, also beyond 2**53 (where JavaScript's numbers
  stop being exact: a reader that needs them exact reads them as text) and beyond 64 bits.
- Decimals (PostgreSQL numeric, MariaDB DECIMAL): a JSON number with every digit and the scale
  the database gave (numeric(10,2) holding 54.5 is 54.50: that is what PostgreSQL holds), never
  a float that rounds nor a string; NaN and the infinities, which JSON has no number for, are the
  strings "NaN", "Infinity" and "-Infinity" (PostgreSQL's words). SQLite has no decimals: a
  NUMERIC column holds a REAL or an INTEGER (54.5 and 121 as inserted), written as such.
- Floats (PostgreSQL real and double, MariaDB FLOAT and DOUBLE, SQLite REAL): the shortest text
  that reads back as the same float (orjson's; Python's repr differs only in how it spells an
  exponent), never turned into a decimal; NaN and the infinities as the strings above.
- Truth values: ``true``/``false``, and so in the CSV. MariaDB's BOOLEAN is a TINYINT and
  SQLite has none: there 1 and 0, as they hold them.
- Dates and times: ISO 8601 strings (``2025-01-02T03:04:05.000006``), with the offset where the
  database keeps one; a PostgreSQL timestamptz is an instant, read in UTC (``+00:00``), so its
  text does not depend on a server setting; SQLite's text and a date PostgreSQL holds that
  Python cannot ('infinity', a year past 9999) are their own text; a MariaDB TIME is MariaDB's
  text ('-01:00:00', '838:59:59': a duration as much as a time of day).
- Bytes: base64 strings (JSON has no bytes; the CSV the same text).
- Everything else PostgreSQL holds (json and jsonb, arrays, intervals, ranges, money, network
  addresses...) is PostgreSQL's own text, as ``psql`` shows it; a UUID its usual text; MariaDB's
  JSON and SET their text; a processor's structure its JSON text with its numbers as sent.

CSV and JSON say the same: the CSV's text of a number is the JSON's, of a truth value ``true``
or ``false``; ``index.html`` and the officer's review show the CSV's text
(``staging.text_of``). Where withholding rewrites a table row by row, each staged value is
read back with its text (``staging.parse_row``) and written unchanged, so the package's bytes
depend only on what was staged and withheld.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from isal import isal_zlib
from stream_zip import NO_COMPRESSION_64, ZIP_64, stream_zip

from cases.actors import Actor
from cases.audit import note
from cases.models import Case
from cases.pdf import render_pdf
from controllers.models import Right
from controllers.systems import TableSpec, spec_of

from ..models import Package, PackageStatus, Search, SearchStatus, Withholding
from ..systems import vault
from ..systems.connectors.base import number_json
from .collect import kept_records, reader
from .letter import letter_context
from .staging import StageReader, csv_columns, text_of

log = logging.getLogger(__name__)

# Rows of each table the readable index.html shows; every row is in the table's JSON and CSV.
PREVIEW_ROWS = 100
# Deflate by ISA-L (python-isal, zlib-compatible raw deflate that every ZIP reader reads) at its
# level 1 of 0-3: on the export benchmark's staged JSON and CSV it compresses ~600 MB/s against
# zlib level 1's ~150 MB/s, to a slightly smaller file (33.5% against 36.9%); its level 2 is 15%
# slower for 0.1% less, zlib's level 6 takes about three times zlib level 1's time for ~5% less
# (bench/RESULTS.md).
COMPRESS_LEVEL = 1
_STORED = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".pdf", ".zip", ".gz", ".mp4", ".heic")


@dataclass
class TableView:
    """One table of one system as the package shows it."""

    system: str
    name: str
    label: str
    spec: TableSpec
    path: str  # the folder of its files in the ZIP: data/<system> or portability/<system>
    columns: list[dict[str, str]]
    rows: int = 0
    withheld_records: int = 0
    withheld_fields: list[str] = field(default_factory=list)
    preview: list[list[Any]] = field(default_factory=list)
    # Rows an earlier erasure kept and unlinked, found by their recorded keys: per erasure,
    # the keys in the package, when, under which ground, until when (``collect.kept_records``).
    kept: list[dict[str, Any]] = field(default_factory=list)
    # The keys of the rows the package holds whose key is not withheld, gathered while they
    # stream (only for a table an earlier erasure kept rows of): what ``kept`` may name.
    present: set[str] | None = None


@dataclass
class Rules:
    """What the officer withheld of one table."""

    whole_table: bool = False
    records: set[str] = field(default_factory=set)  # every field of these rows
    columns: set[str] = field(default_factory=set)  # this field of every row
    fields: set[tuple[str, str]] = field(default_factory=set)  # (record, column)

    def __bool__(self) -> bool:
        return self.whole_table or bool(self.records or self.columns or self.fields)


def rules_for(case: Case) -> dict[tuple[str, str], Rules]:
    rules: dict[tuple[str, str], Rules] = {}
    for item in Withholding.objects.filter(case=case):
        rule = rules.setdefault((item.system_name, item.table), Rules())
        if not item.record and not item.column:
            rule.whole_table = True
        elif not item.column:
            rule.records.add(item.record)
        elif not item.record:
            rule.columns.add(item.column)
        else:
            rule.fields.add((item.record, item.column))
    return rules


# --- Building.


def request_build(case: Case, now: dt.datetime | None = None) -> Package:
    """Start building the package of a case (in the transaction of the step that asks for it);
    an earlier one that was not released is superseded."""
    now = now or timezone.now()
    supersede(case, now)
    kind = Right.PORTABILITY if case.right == Right.PORTABILITY else Right.ACCESS
    package = Package.objects.create(case=case, kind=kind, created_at=now)
    transaction.on_commit(lambda: _enqueue(package.pk))
    return package


def supersede(case: Case, now: dt.datetime | None = None) -> None:
    for package in case.packages.filter(
        status__in=[PackageStatus.BUILDING, PackageStatus.READY, PackageStatus.FAILED]
    ):
        package.status = PackageStatus.SUPERSEDED
        package.ended_at = now or timezone.now()
        package.save(update_fields=["status", "ended_at"])
        _delete_file_after_commit(package)


def _enqueue(package_id: int) -> None:
    try:
        build_task.delay(package_id)
    except Exception:
        log.warning("broker unavailable; package %s waits for the sweep", package_id)


def _path(package: Package) -> Path:
    return vault.root() / "packages" / package.file_name


def _delete_file_after_commit(package: Package) -> None:
    if package.file_name:
        path = _path(package)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


def build(package_id: int, now: dt.datetime | None = None) -> None:
    """Build a package that is waiting to be built (again: idempotent). ``now``: when it is
    built, the moment the package and its letter are dated by (a demo history sets it back)."""
    package = Package.objects.select_related("case__controller").filter(pk=package_id).first()
    if package is None or package.status != PackageStatus.BUILDING:
        return
    case = package.case
    key = vault.new_key()
    name = f"{uuid.uuid4().hex}.zip"
    path = vault.root() / "packages" / name
    digest = hashlib.sha256()
    now = now or timezone.now()
    try:
        assembly = Assembly(case, package.kind, now)
        with vault.Writer(path, key) as writer:
            for chunk in assembly.zip():
                digest.update(chunk)
                writer.write(chunk)
    except Exception as error:
        log.exception("package %s could not be built", package_id)
        with transaction.atomic():
            updated = Package.objects.filter(pk=package_id, status=PackageStatus.BUILDING).update(
                status=PackageStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
            )
            if updated:
                note(
                    case,
                    actor=Actor.system(),
                    action="package_failed",
                    at=now,
                    data={"error": f"{type(error).__name__}: {error}"[:500]},
                )
        return
    with transaction.atomic():
        updated = Package.objects.filter(pk=package_id, status=PackageStatus.BUILDING).update(
            status=PackageStatus.READY,
            file_name=name,
            wrapped_key=vault.wrap(key),
            size=writer.size,
            sha256=digest.hexdigest(),
            manifest_sha256=assembly.manifest_sha256,
            file_count=len(assembly.hashes),
            built_at=now,
        )
        if not updated:  # superseded while it was being built
            path.unlink(missing_ok=True)
            return
        note(
            case,
            actor=Actor.system(),
            action="package_built",
            at=now,
            data={
                "package": package.kind,
                "files": len(assembly.hashes),
                "size": writer.size,
                "sha256": digest.hexdigest(),
                "manifest": assembly.manifest_sha256,
                **({"withheld": assembly.withheld_summary()} if assembly.withheld else {}),
            },
        )


class Assembly:
    """The members of one package, streamed in order; the manifest comes last."""

    def __init__(self, case: Case, kind: str, now: dt.datetime) -> None:
        self.case = case
        self.kind = kind
        self.now = now
        self.hashes: dict[str, dict[str, Any]] = {}
        self.rules = rules_for(case)
        self.views: list[TableView] = []
        self.systems: list[dict[str, Any]] = []
        self.withheld: list[dict[str, Any]] = []
        self.manifest_sha256 = ""
        searches = list(Search.objects.filter(case=case).select_related("system"))
        self.searches = [(c, reader(c)) for c in searches]
        self.kept = kept_records(case)

    # The ZIP itself.

    def zip(self) -> Iterator[bytes]:
        modified = timezone.localtime(self.now).replace(tzinfo=None)

        def members() -> Iterator[tuple[str, dt.datetime, int, Any, Iterable[bytes]]]:
            for name, chunks in self._members():
                method = NO_COMPRESSION_64 if name.lower().endswith(_STORED) else ZIP_64
                yield name, modified, 0o600, method, self._hashed(name, chunks)

        return stream_zip(
            members(),
            chunk_size=1 << 16,
            get_compressobj=lambda: isal_zlib.compressobj(
                COMPRESS_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS
            ),
        )

    def _hashed(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        digest, size = hashlib.sha256(), 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        self.hashes[name] = {"sha256": digest.hexdigest(), "size": size}

    def _members(self) -> Iterator[tuple[str, Iterable[bytes]]]:
        base = "portability" if self.kind == Right.PORTABILITY else "data"
        for search, stage in self.searches:
            system = self._system_entry(search)
            self.systems.append(system)
            if stage is None:
                continue
            manifest = stage.manifest()
            spec = spec_of(search.system.spec) if search.system else None
            for table_name in manifest["tables"]:
                table = _table_spec(spec, table_name)
                if table is None:
                    continue
                yield from self._table(search, stage, table, base)
            yield from self._files(search, stage, manifest, spec, base)
            if self.kind == Right.ACCESS:
                for export in manifest["exports"]:
                    path = f"{base}/{search.system_name}/{export['name']}"
                    # Described where the subject reads what was found (index and letter).
                    system["exports"].append({"path": path, "name": export["name"]})
                    yield path, stage.export(export["name"])
        yield "index.html", [self._index().encode()]
        if self.kind == Right.ACCESS:
            html = self._letter_html()
            yield "letter.html", [html.encode()]
            yield "letter.pdf", [render_pdf(html)]
        manifest = self._manifest()
        self.manifest_sha256 = hashlib.sha256(manifest).hexdigest()
        yield "manifest.json", [manifest]

    def _system_entry(self, search: Search) -> dict[str, Any]:
        return {
            "name": search.system_name,
            "title": search.system_title,
            "kind": search.kind,
            "status": search.status,
            "skipped": search.answer_note if search.status == SearchStatus.SKIPPED else "",
            "exports": [],
        }

    # Tables.

    def _table(
        self, search: Search, stage: StageReader, table: TableSpec, base: str
    ) -> Iterator[tuple[str, Iterable[bytes]]]:
        rule = self.rules.get((search.system_name, table.name), Rules())
        columns = table.provided if self.kind == Right.PORTABILITY else table.columns
        if not columns:
            return
        view = TableView(
            system=search.system_title,
            name=table.name,
            label=table.label,
            spec=table,
            path=f"{base}/{search.system_name}",
            columns=[{"name": c.name, "label": c.label, "category": c.category} for c in columns],
        )
        self.views.append(view)
        if rule.whole_table:
            # Nothing of it is in the package: neither are the keys of what was kept.
            self._note_withheld(search, table, rule, view)
            return
        names = [c.name for c in columns]
        kept = self.kept.get((search.system_name, table.name))
        if kept:
            # Which of the rows kept are in the package is known as they stream (row by row:
            # the kept keys are read from the rows the package holds, never the stage's).
            view.present = set()
        elif not rule and self.kind == Right.ACCESS:
            # Nothing withheld: the staged files are the package's, byte for byte.
            yield f"{view.path}/{table.name}.json", _json_array(stage.jsonl(table.name), view)
            yield f"{view.path}/{table.name}.csv", stage.csv(table.name)
            view.preview = [
                [text_of(row.get(n)) for n in names]
                for _, row in zip(range(PREVIEW_ROWS), stage.rows(table.name), strict=False)
            ]
            return
        # Withheld parts, only the provided columns, or rows kept by an erasure: row by row.
        yield f"{view.path}/{table.name}.json", self._json_rows(stage, table, names, rule, view)
        yield f"{view.path}/{table.name}.csv", self._csv_rows(stage, table, names, rule)
        if rule:
            self._note_withheld(search, table, rule, view)
        if kept:
            view.kept = self._kept(kept, view.present or set())

    def _kept(self, records: list[dict[str, Any]], present: set[str]) -> list[dict[str, Any]]:
        """Which of the rows in the package an earlier erasure kept and unlinked (the search
        found them by the keys it recorded), so the index says so beside the table. ``present``:
        the keys the package holds (``_filtered``), so a record or a key the officer withheld
        (Art. 15(4)) is never named here. Called once the table's JSON has streamed."""
        notes = []
        for record in records:
            keys = [key for key in record["keys"] if str(key) in present]
            if keys:
                erased = record["erased"]
                notes.append(
                    {
                        **record,
                        "keys": ", ".join(map(str, keys)),
                        "erased": timezone.localtime(
                            erased, ZoneInfo(self.case.controller.time_zone)
                        ).date()
                        if erased
                        else None,
                    }
                )
        return notes

    def _filtered(
        self,
        stage: StageReader,
        table: TableSpec,
        names: list[str],
        rule: Rules,
        present: set[str] | None = None,
    ) -> Iterator[list[Any]]:
        """The rows the package holds, what is withheld emptied; ``present`` gathers the keys
        it shows (a row's key, unless its key field is withheld)."""
        key_withheld = table.key in rule.columns or table.key not in names
        for row in stage.rows(table.name):
            record = str(row.get(table.key))
            if record in rule.records:
                continue
            if present is not None and not key_withheld and (record, table.key) not in rule.fields:
                present.add(record)
            yield [
                None if (n in rule.columns or (record, n) in rule.fields) else row.get(n)
                for n in names
            ]

    def _json_rows(
        self, stage: StageReader, table: TableSpec, names: list[str], rule: Rules, view: TableView
    ) -> Iterator[bytes]:
        yield b"[\n"
        count = 0
        for values in self._filtered(stage, table, names, rule, view.present):
            if count < PREVIEW_ROWS:
                view.preview.append([text_of(value) for value in values])
            row = dict(zip(names, values, strict=True))
            # Each number written back as the text it was staged as (never through a float).
            yield (b",\n" if count else b"") + orjson.dumps(row, default=number_json)
            count += 1
        view.rows = count
        yield b"\n]\n"

    def _csv_rows(
        self, stage: StageReader, table: TableSpec, names: list[str], rule: Rules
    ) -> Iterator[bytes]:
        """The CSV of the rows left, each field's text as the staged CSV has it."""
        yield csv_columns([[name] for name in names])
        rows = self._filtered(stage, table, names, rule)
        while block := list(itertools.islice(rows, 1000)):
            texts = [[text_of(value) for value in values] for values in block]
            yield csv_columns(list(zip(*texts, strict=True)))

    def _note_withheld(
        self, search: Search, table: TableSpec, rule: Rules, view: TableView
    ) -> None:
        reasons = list(
            Withholding.objects.filter(
                case=self.case, system_name=search.system_name, table=table.name
            ).values_list("reason", flat=True)
        )
        view.withheld_records = len(rule.records)
        view.withheld_fields = sorted(rule.columns | {c for _, c in rule.fields})
        self.withheld.append(
            {
                "system": search.system_title,
                "table": table.label,
                "whole_table": rule.whole_table,
                "records": len(rule.records),
                "fields": view.withheld_fields,
                "reasons": sorted(set(reasons)),
            }
        )

    def withheld_summary(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in item.items() if k != "reasons"} for item in self.withheld]

    # Files a system's rows name.

    def _files(
        self,
        search: Search,
        stage: StageReader,
        manifest: dict[str, Any],
        spec: Any,
        base: str,
    ) -> Iterator[tuple[str, Iterable[bytes]]]:
        for entry in manifest["files"]:
            table = _table_spec(spec, entry["table"])
            if table is None:
                continue
            rule = self.rules.get((search.system_name, table.name), Rules())
            record = str(entry["record"])
            file_columns = {c.name for c in table.columns if c.file}
            if self.kind == Right.PORTABILITY:
                file_columns &= {c.name for c in table.provided}
            withheld_columns = rule.columns | {c for r, c in rule.fields if r == record}
            # Each file goes with the column that named it: a withheld or (for portability)
            # not provided column keeps its files out, whatever the record's other columns.
            column = entry.get("column")
            wanted = {column} & file_columns if column else file_columns
            withheld = rule.whole_table or record in rule.records or wanted <= withheld_columns
            if not wanted or withheld:
                continue
            yield (
                f"{base}/{search.system_name}/files/{entry['name']}",
                stage.file(entry["name"]),
            )

    # The readable parts.

    def _index(self) -> str:
        for system in self.systems:
            # Each system's row of the summary: its tables, and the files exported by hand.
            system["views"] = [view for view in self.views if view.system == system["title"]]
        with translation.override(self.case.language):
            return render_to_string(
                "fulfilment/package/index.html",
                {
                    "case": self.case,
                    "controller": self.case.controller,
                    "kind": self.kind,
                    "systems": self.systems,
                    "tables": self.views,
                    "withheld": self.withheld,
                    "purposes": _purposes(self.case),
                    "files": sorted(n for n in self.hashes if "/files/" in n),
                    "preview_rows": PREVIEW_ROWS,
                    "now": self.now,
                },
            )

    def _letter_html(self) -> str:
        with translation.override(self.case.language):
            return render_to_string(
                "fulfilment/package/letter.html",
                letter_context(
                    self.case,
                    tables=self.views,
                    withheld=self.withheld,
                    now=self.now,
                    exports=[
                        {"system": system["title"], **export}
                        for system in self.systems
                        for export in system["exports"]
                    ],
                ),
            )

    def _manifest(self) -> bytes:
        return orjson.dumps(
            {
                "reference": self.case.reference,
                "controller": self.case.controller.legal_name,
                "package": self.kind,
                "assembled_at": self.now.isoformat(),
                "files": self.hashes,
            },
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )


def _table_spec(spec: Any, name: str) -> TableSpec | None:
    if spec is None:
        return None
    return next((t for t in spec.tables if t.name == name), None)


def _json_array(chunks: Iterator[bytes], view: TableView) -> Iterator[bytes]:
    """JSON lines as one JSON array, rewritten chunk by chunk (no row is parsed); counts rows."""
    yield b"[\n"
    rest = b""
    first = True
    for chunk in chunks:
        block, _, rest = (rest + chunk).rpartition(b"\n")
        if block:
            view.rows += block.count(b"\n") + 1
            yield (b"" if first else b",\n") + block.replace(b"\n", b",\n")
            first = False
    if rest:
        view.rows += 1
        yield (b"" if first else b",\n") + rest
    yield b"\n]\n"


def _purposes(case: Case) -> dict[str, list[str]]:
    return {c.name: list(c.purposes) for c in case.controller.data_categories.all()}


@shared_task(name="fulfilment.build_package", acks_late=True, reject_on_worker_lost=True)
def build_task(package_id: int) -> None:
    build(package_id)


# --- After release.


def package_of(case: Case) -> Package | None:
    return case.packages.exclude(status=PackageStatus.SUPERSEDED).order_by("-pk").first()


def release(case: Case, now: dt.datetime) -> Package | None:
    """The ``complete`` step of a data request: its ready package goes to the subject."""
    package = package_of(case)
    if package is None or package.status != PackageStatus.READY:
        return None
    package.status = PackageStatus.RELEASED
    package.released_at = now
    package.expires_at = now + dt.timedelta(days=settings.PACKAGE_LINK_DAYS)
    package.save(update_fields=["status", "released_at", "expires_at"])
    note(
        case,
        actor=Actor.system(),
        action="package_released",
        at=now,
        data={"sha256": package.sha256, "expires": package.expires_at.isoformat()},
    )
    return package


def end(package: Package, *, status: str, actor: Actor, now: dt.datetime, reason: str = "") -> bool:
    """Revoke or expire a released package: the file is deleted, the event says so."""
    with transaction.atomic():
        updated = Package.objects.filter(pk=package.pk, status=PackageStatus.RELEASED).update(
            status=status, ended_at=now
        )
        if not updated:
            return False
        _delete_file_after_commit(package)
        note(
            package.case,
            actor=actor,
            action="package_revoked" if status == PackageStatus.REVOKED else "package_expired",
            at=now,
            data={"sha256": package.sha256, **({"reason": reason} if reason else {})},
        )
    return True


def expire(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    expired = 0
    for package in Package.objects.filter(
        status=PackageStatus.RELEASED, expires_at__lte=now
    ).select_related("case"):
        expired += end(package, status=PackageStatus.EXPIRED, actor=Actor.system(), now=now)
    return expired


@shared_task(name="fulfilment.expire_packages")
def expire_task() -> int:
    return expire()


def open_package(package: Package) -> Iterator[bytes]:
    """The ZIP as the subject gets it, chunk by chunk."""
    return vault.read(_path(package), vault.unwrap(package.wrapped_key))


def opened(package: Package) -> Iterator[bytes] | None:
    """The ZIP's chunks with its file already open and its first chunk read, or None when the
    file is gone (the package ended since its row was read: a link withdrawn or expired
    meanwhile deletes it; a file that is there but damaged is raised, never said gone). A
    download starts only once this succeeded: never a response cut off after its headers,
    and never a download recorded that could not happen. Once open, the file is read to its
    end whatever happens to its name."""
    if not package.wrapped_key:
        return None
    chunks = open_package(package)
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())
    except vault.VaultError:
        if _path(package).exists():
            raise  # damaged or altered: a fault to see, never said to be gone
        return None
    return itertools.chain([first], chunks)
