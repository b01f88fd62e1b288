"""What one collection found, kept sealed until the package is built from it.

A run writes into a folder of its own: for every table its rows as JSON lines and as CSV (the
two forms the package gives the subject, written once while the rows stream in), the files its
``file`` columns name, a manual export, and a manifest with the counts. A run that dies leaves a
folder nobody refers to (``Collection.run_id`` names the finished one), so a retried search can
never add its rows twice.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from controllers.systems import TableSpec

from . import vault
from .connectors.base import Batch

_PLAIN = (str, int, float, bool)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
Column = Sequence[Any]


def _isoformat(column: Column) -> list[Any]:
    return [None if value is None else value.isoformat() for value in column]


def _base64(column: Column) -> list[Any]:
    return [None if value is None else base64.b64encode(bytes(value)).decode() for value in column]


def _text(column: Column) -> list[Any]:
    return [None if value is None else str(value) for value in column]


def _converter(value: Any) -> Callable[[Column], list[Any]] | None:
    """How a database value is written in JSON and CSV alike: dates in ISO 8601, decimals as
    their exact digits, bytes in base64; None when it needs nothing. The converter takes a whole
    column (its NULLs stay None): a call a column, not one a value."""
    if isinstance(value, _PLAIN):
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return _isoformat
    if isinstance(value, bytes | bytearray | memoryview):
        return _base64
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return _text
    return _text


def plain_columns(rows: Sequence[Sequence[Any]]) -> list[Column]:
    """The batch column by column, with every value a JSON scalar. A column's type is read from
    its first value that is not NULL (a database column has one type), so plain batches cost no
    per-value work."""
    # Column by column: only the values of a column that needs converting pass through Python
    # code. Converting row by row touched every value of every row and cost twice as much (4.0 s
    # against 2.1 s in a million-row search: bench/RESULTS.md). strict: a row of another length
    # is an error, as the JSON lines' zip(names, row, strict=True) made it before.
    columns: list[Column] = list(zip(*rows, strict=True))
    for index, column in enumerate(columns):
        first = next((value for value in column if value is not None), None)
        convert = _converter(first) if first is not None else None
        if convert is not None:
            columns[index] = convert(column)
    return columns


def plain_rows(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """The batch with every value a JSON scalar (``plain_columns``, row by row)."""
    return list(zip(*plain_columns(rows), strict=True)) if rows else []


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
        self.csv.write(_csv_lines([self.names]))

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        columns = plain_columns(rows)
        names = self.names
        if len(columns) != len(names):
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
                    for row in zip(*columns, strict=True)
                ]
            )
        )
        self.csv.write(_csv_columns(columns))
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
_NONE = type(None)


def _csv_lines(rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _csv_field(value: Any) -> str:
    """One value of a str, int, bool, float or NULL column as csv.writer writes it."""
    if value is None:
        return ""
    if type(value) is str:
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if _CSV_SPECIAL.search(value) else value
    return repr(value) if type(value) is float else str(value)


def _csv_text(column: Column) -> list[str] | None:
    """The column's fields as csv.writer writes them, or None if it holds a value of another
    type than str, int, bool, float and NULL (then the batch goes through csv.writer)."""
    kinds = set(map(type, column))
    if kinds <= {str, _NONE}:
        texts = ["" if value is None else value for value in column] if _NONE in kinds else column
        joined = "".join(texts)  # one scan of the column for the rare field that needs quotes
        if '"' in joined or "," in joined or "\r" in joined or "\n" in joined:
            return [_csv_field(text) for text in texts]
        return list(texts)
    if kinds == {int}:  # a key, a count: no NULL, and never a character that needs quotes
        return list(map(str, column))
    if kinds <= {str, int, bool, float, _NONE}:
        return [_csv_field(value) for value in column]
    return None


def _csv_columns(columns: list[Column]) -> bytes:
    """The batch's CSV lines, byte for byte as ``_csv_lines`` writes its rows, built column by
    column: csv.writer looks at every character of every field through a function call, 1.9 us
    a row of the export benchmark's, against ~0.3 us here (bench/RESULTS.md)."""
    texts = [_csv_text(column) for column in columns]
    if any(text is None for text in texts):
        return _csv_lines(list(zip(*columns, strict=True)))
    if len(texts) == 1:
        # csv.writer quotes a line that would be empty (a single empty field), to keep it.
        texts = [['""' if text == "" else text for text in texts[0]]]  # type: ignore[index]
    lines = "\r\n".join(map(",".join, zip(*texts, strict=True)))  # type: ignore[arg-type]
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

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        """The table's rows as dicts, one line at a time (a line may span chunks)."""
        rest = b""
        for chunk in self.jsonl(table):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line:
                    yield orjson.loads(line)
        if rest:
            yield orjson.loads(rest)

    def file(self, stored: str) -> Iterator[bytes]:
        return vault.read(self.directory / "files" / stored, self.key)

    def export(self, stored: str) -> Iterator[bytes]:
        return vault.read(self.directory / "exports" / stored, self.key)
