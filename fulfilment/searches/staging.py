"""What one search found, kept sealed until the package is built from it.

A run writes into a folder of its own: for every table its rows as JSON lines and as CSV (the
two forms the package gives the subject, written once while the rows stream in), the files its
``file`` columns name, a manual export, and a manifest with the counts. A run that dies leaves a
folder nobody refers to (``Search.run_id`` names the finished one), so a retried search can
never add its rows twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from controllers.systems import TableSpec

from ..systems import vault
from ..systems.connectors.base import Batch, Number, number_json

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
Column = Sequence[Any]
_NONE = type(None)
# What orjson writes as a JSON number: an integer in 64 bits, signed or unsigned.
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1
_TEXTS = frozenset({str, _NONE})
_NUMBERS = frozenset({int, float, bool, _NONE})


def decimal_text(value: decimal.Decimal) -> str:
    """A decimal's exact text: every digit and the scale it has (PostgreSQL's numeric(10,2)
    54.50 is "54.50", 1E-7 at scale 10 "0.0000001000"), in fixed point as databases write it; a
    processor's number as it sent it. A positive exponent (no database gives one) stays in
    exponent form, not a run of zeros."""
    if isinstance(value, Number):
        return value.text
    if not value.is_finite():
        return _special(value)
    if value.as_tuple().exponent > 0:  # type: ignore[operator]
        return str(value)
    return format(value, "f")


def _special(value: float | decimal.Decimal) -> str:
    """NaN and the infinities, which JSON has no number for: PostgreSQL's words for them."""
    nan = value.is_nan() if isinstance(value, decimal.Decimal) else math.isnan(value)
    if nan:
        return "NaN"
    return "-Infinity" if value < 0 else "Infinity"


def exact(value: Any) -> tuple[Any, str | None]:
    """One value as the package writes it: (what orjson writes into the JSON, the CSV's text).
    The module docstring of ``fulfilment.searches.package`` says why each is written so."""
    kind = type(value)
    if value is None:
        return None, None
    if kind is str:
        return value, value
    if kind is bool:
        return value, "true" if value else "false"
    if isinstance(value, int):
        number = int(value)
        text = str(number)
        return (number if _INT_MIN <= number <= _INT_MAX else orjson.Fragment(text)), text
    if kind is float:
        if math.isfinite(value):
            return value, orjson.dumps(value).decode()
        text = _special(value)
        return text, text
    if isinstance(value, decimal.Decimal):
        text = decimal_text(value)
        return (orjson.Fragment(text) if value.is_finite() else text), text
    if isinstance(value, dt.datetime | dt.date | dt.time):
        text = value.isoformat()
    elif isinstance(value, bytes | bytearray | memoryview):
        text = base64.b64encode(bytes(value)).decode()
    elif isinstance(value, dict | list | tuple):
        # A structure a driver made (none of the connectors' does: PostgreSQL's json is read
        # as its text): its JSON text, or Python's where it holds what JSON cannot.
        try:
            text = orjson.dumps(value, default=number_json).decode()
        except orjson.JSONEncodeError:
            text = str(value)
    else:
        text = str(value)  # a UUID, an address, a float subclass of a driver...
    return text, text


def _isoformat(column: Column) -> list[Any]:
    return [None if value is None else value.isoformat() for value in column]


def _base64(column: Column) -> list[Any]:
    return [None if value is None else base64.b64encode(bytes(value)).decode() for value in column]


# Columns of one type (and NULLs) whose JSON value and CSV text are one and the same text,
# converted a column at a time.
_TEXT_OF = {
    dt.datetime: _isoformat,
    dt.date: _isoformat,
    dt.time: _isoformat,
    bytes: _base64,
    bytearray: _base64,
    memoryview: _base64,
}


def _numbers(column: Column) -> tuple[Column, Column]:
    """A column of ints, floats, truth values and NULLs: as it is for the JSON, and for the CSV
    each value's text exactly as orjson writes it into the JSON (one orjson call a column).
    orjson writes NaN and the infinities as null, and cannot write an integer beyond 64 bits:
    such a column goes value by value."""
    try:
        texts: list[Any] = orjson.dumps(column).decode()[1:-1].split(",")
    except orjson.JSONEncodeError:
        return _by_value(column)
    nulls = texts.count("null")
    if nulls:
        if nulls != column.count(None):
            return _by_value(column)
        texts = [None if text == "null" else text for text in texts]
    return column, texts


def _by_value(column: Column) -> tuple[Column, Column]:
    pairs = [exact(value) for value in column]
    return [pair[0] for pair in pairs], [pair[1] for pair in pairs]


def exact_columns(rows: Sequence[Sequence[Any]]) -> tuple[list[Column], list[Column]]:
    """The batch column by column, twice: the values orjson writes into the JSON lines, and
    the CSV's texts (None for NULL), each value as ``exact`` writes it.

    A column is read by the types of all its values (a SQLite column holds a REAL in one row,
    an INTEGER or a text in the next; a processor's JSON anything): one C pass a column, and
    only the values of a column that needs converting pass through Python code. Converting row
    by row touched every value of every row and cost twice as much (4.0 s against 2.1 s in a
    million-row search: bench/RESULTS.md)."""
    # strict: a row of another length is an error, as the JSON lines' zip(names, row,
    # strict=True) made it before.
    columns: list[Column] = list(zip(*rows, strict=True))
    values: list[Column] = []
    texts: list[Column] = []
    for column in columns:
        kinds = set(map(type, column))
        if kinds <= _TEXTS:
            json_column, text_column = column, column
        elif kinds <= _NUMBERS:
            json_column, text_column = _numbers(column)
        elif len(kinds - {_NONE}) == 1 and (convert := _TEXT_OF.get(next(iter(kinds - {_NONE})))):
            json_column = text_column = convert(column)
        else:
            json_column, text_column = _by_value(column)
        values.append(json_column)
        texts.append(text_column)
    return values, texts


def parse_row(line: bytes) -> dict[str, Any]:
    """A staged JSON line with every number kept as its text (``Number``; ``number_json``
    writes it back unchanged): orjson would read 54.50 as the float 54.5, and a decimal of
    twenty digits rounded."""
    return json.loads(line, parse_float=Number, parse_int=Number)


def text_of(value: Any) -> str | None:
    """A value read back by ``parse_row`` as its text in the CSV (what index.html and the
    officer's review show): None for NULL."""
    if value is None or isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)  # a Number: its text


def safe_name(name: str) -> str:
    """A file name that is only a name: no folders, no dots in front, nothing odd."""
    base = _SAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).lstrip("._")
    return base[:100] or "file"


class _TableWriter:
    def __init__(self, directory: Path, table: TableSpec, key: bytes) -> None:
        self.names = [column.name for column in table.columns]
        self.rows = 0
        self.jsonl = vault.Writer(directory / f"{table.name}.jsonl", key)
        self.csv = vault.Writer(directory / f"{table.name}.csv", key)
        self.csv.write(csv_columns([[name] for name in self.names]))

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        values, texts = exact_columns(rows)
        names = self.names
        if len(values) != len(names):
            # Rows of another width than the table's: the ValueError that writing the first row
            # as a dict raised before (below, zip over the columns would not see it).
            dict(zip(names, rows[0], strict=True))
        # The rows are rebuilt from the columns as they are written, never kept: zip hands out
        # one tuple it reuses, where a list of new rows cost a million tuples (and the garbage
        # collector's walks over them) a million rows.
        self.jsonl.write(
            b"".join(
                [
                    orjson.dumps(dict(zip(names, row, strict=True))) + b"\n"
                    for row in zip(*values, strict=True)
                ]
            )
        )
        self.csv.write(csv_columns(texts))
        self.rows += len(rows)

    def close(self) -> None:
        self.jsonl.close()
        self.csv.close()

    def abort(self) -> None:
        self.jsonl.abort()
        self.csv.abort()


# What makes csv.writer (QUOTE_MINIMAL, lineterminator "\r\n") quote a field: the delimiter, the
# quote character (doubled inside) and the line terminator's characters.
_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def _csv_field(text: str | None) -> str:
    """One CSV field: NULL as nothing; a text quoted where csv.writer quotes it (a comma, a
    quote, a line break), and where it is empty, so that an empty text is told from a NULL (as
    PostgreSQL's COPY ... CSV writes them)."""
    if text is None:
        return ""
    if not text:
        return '""'
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if _CSV_SPECIAL.search(text) else text


def _csv_fields(column: Column) -> Column:
    """A column of texts and NULLs as CSV fields (``_csv_field``), with a pass of C code over
    the column for the usual one that needs no quotes and holds no empty text."""
    joined = "".join(filter(None, column))
    if '"' in joined or "," in joined or "\r" in joined or "\n" in joined or "" in column:
        return [_csv_field(text) for text in column]
    if None in column:
        return ["" if text is None else text for text in column]
    return column


def csv_columns(columns: Sequence[Column]) -> bytes:
    """CSV lines of columns of texts and NULLs (``exact_columns``' second half), built column
    by column: csv.writer looks at every character of every field through a function call, 1.9
    us a row of the export benchmark's, against ~0.3 us here (bench/RESULTS.md)."""
    fields = [_csv_fields(column) for column in columns]
    if len(fields) == 1:
        # A line of one empty field would be a blank line, which readers skip: csv.writer
        # quotes it, and so does this (a one-column NULL reads as an empty text).
        fields = [['""' if field == "" else field for field in fields[0]]]
    lines = "\r\n".join(map(",".join, zip(*fields, strict=True)))
    return (lines + "\r\n").encode("utf-8")


class Stage:
    """Writes one run's output into ``directory``, sealed under ``key``."""

    def __init__(self, directory: Path, key: bytes) -> None:
        self.directory = directory
        self.key = key
        self.tables: dict[str, _TableWriter] = {}
        self.files: list[dict[str, Any]] = []
        self.exports: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def add(self, batch: Batch) -> None:
        writer = self.tables.get(batch.table.name)
        if writer is None:
            writer = self.tables[batch.table.name] = _TableWriter(
                self.directory, batch.table, self.key
            )
        writer.add(batch.rows)

    def add_file(self, table: str, record: Any, column: str, source: BinaryIO, name: str) -> None:
        # The record's key as its text in the table (what withholding names it by), whatever
        # its type: a Decimal or a date would not go into the manifest's JSON.
        record = exact(record)[1]
        # Numbered: two records or folders may name files that read the same once made safe.
        number = len(self.files) + 1
        stored = f"{table}/{number:06d}-{safe_name(str(record))}-{safe_name(name)}"
        with vault.Writer(self.directory / "files" / stored, self.key) as writer:
            shutil.copyfileobj(source, writer, length=vault.CHUNK)  # type: ignore[misc]
        self.files.append(
            {
                "table": table,
                "record": record,
                "column": column,  # what withholding and the Art. 20 subset decide on
                "name": stored,
                "size": writer.size,
            }
        )

    def add_export(self, name: str, chunks: Iterator[bytes]) -> dict[str, Any]:
        stored = safe_name(name)
        with vault.Writer(self.directory / "exports" / stored, self.key) as writer:
            for chunk in chunks:
                writer.write(chunk)
        entry = {"name": stored, "size": writer.size}
        self.exports.append(entry)
        return entry

    def close(self) -> dict[str, Any]:
        """Seal everything; the manifest says what the run found."""
        for writer in self.tables.values():
            writer.close()
        manifest = {
            "tables": {
                name: {"rows": writer.rows, "columns": writer.names}
                for name, writer in self.tables.items()
            },
            "files": self.files,
            "exports": self.exports,
            "warnings": self.warnings,
        }
        with vault.Writer(self.directory / "manifest.json", self.key) as writer:
            writer.write(orjson.dumps(manifest))
        return manifest

    def abort(self) -> None:
        for writer in self.tables.values():
            writer.abort()
        shutil.rmtree(self.directory, ignore_errors=True)


class StageReader:
    """Reads a finished run back (for the officer's review and for the package)."""

    def __init__(self, directory: Path, key: bytes) -> None:
        self.directory = directory
        self.key = key

    def manifest(self) -> dict[str, Any]:
        return orjson.loads(vault.read_all(self.directory / "manifest.json", self.key))

    def jsonl(self, table: str) -> Iterator[bytes]:
        return vault.read(self.directory / f"{table}.jsonl", self.key)

    def csv(self, table: str) -> Iterator[bytes]:
        return vault.read(self.directory / f"{table}.csv", self.key)

    def lines(self, table: str) -> Iterator[bytes]:
        """The table's JSON lines, one at a time (a line may span chunks)."""
        rest = b""
        for chunk in self.jsonl(table):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield from filter(None, lines)
        if rest:
            yield rest

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        """The table's rows as dicts, each number as the ``Number`` of its text in the JSON
        (``text_of`` shows a value; ``number_json`` writes it back unchanged)."""
        for line in self.lines(table):
            yield parse_row(line)

    def file(self, stored: str) -> Iterator[bytes]:
        return vault.read(self.directory / "files" / stored, self.key)

    def export(self, stored: str) -> Iterator[bytes]:
        return vault.read(self.directory / "exports" / stored, self.key)
