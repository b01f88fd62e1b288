"""The record tells the truth (issue 20): every value reaches the package as the system holds
it. A decimal keeps its digits and scale (PostgreSQL's numeric(10,2) 54.5 is 54.50; SQLite's
54.5 and 121 stay 54.5 and 121, never 54.5000000000), a JSON number is a number with those
exact digits, the CSV holds the same text, and index.html shows the CSV's text.

Each value type a connector meets is read from a real SQLite, PostgreSQL and MariaDB database
(and a processor's JSON), staged as a search stages it, and the staged JSON lines (the
package's JSON, byte for byte) and CSV checked token by token; the demo's systems end to end
through the package, with and without withheld parts.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.urls import reverse

from fulfilment.searches.staging import Stage, StageReader
from fulfilment.systems import vault
from fulfilment.systems.connectors.base import Batch
from fulfilment.systems.connectors.sql import SqlSource

from .demo_world import drive_to_work, officer_client, respond, settle, unzip
from .test_connectors import (  # noqa: F401 (garbage, maria, pg: the fixtures)
    SHOP_URL_ENV,
    SUBJECT_EMAIL,
    column,
    garbage,
    maria,
    pg,
    source_at,
    sql_spec,
)

# --- Reading what a search staged, token by token.


def tokens(line: bytes) -> dict[str, Any]:
    """A JSON line with each number as ("number", its text): what the JSON really says."""
    return json.loads(
        line,
        parse_float=lambda text: ("number", text),
        parse_int=lambda text: ("number", text),
    )


def staged(batches: Iterable[Batch], folder: Path) -> tuple[StageReader, dict[str, Any]]:
    key = vault.new_key()
    stage = Stage(folder, key)
    for batch in batches:
        stage.add(batch)
    return StageReader(folder, key), stage.close()


def table_of(reader: StageReader, table: str) -> tuple[list[dict[str, Any]], list[list[str]], str]:
    """The staged table: its JSON lines as tokens, its CSV as fields, and the CSV's text."""
    lines = [tokens(line) for line in b"".join(reader.jsonl(table)).splitlines()]
    text = b"".join(reader.csv(table)).decode()
    fields = list(csv.reader(io.StringIO(text, newline="")))
    return lines, fields, text


def by_id(lines: list[dict[str, Any]], fields: list[list[str]]) -> dict[str, tuple[dict, dict]]:
    """Each row's JSON tokens and CSV fields, by the row's id."""
    names = fields[0]
    rows = {}
    for line, values in zip(lines, fields[1:], strict=True):
        rows[line["id"][1]] = (line, dict(zip(names, values, strict=True)))
    return rows


def number(text: str) -> tuple[str, str]:
    return ("number", text)


def check(rows: dict[str, tuple[dict, dict]], expected: dict[str, dict[str, tuple[Any, str]]]):
    """Each expected (JSON token, CSV text) of each row's column; a JSON number's text must be
    the CSV's too, and a JSON string's text the CSV's."""
    for id_, columns in expected.items():
        line, fields = rows[id_]
        for name, (token, text) in columns.items():
            assert line[name] == token, (id_, name, line[name])
            assert fields[name] == text, (id_, name, fields[name])


def search(spec_tables: list[dict[str, Any]]) -> list[Batch]:
    return list(SqlSource(sql_spec(spec_tables)).search({"email": SUBJECT_EMAIL}))


def typed_table(names: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "typed",
            "key": "id",
            "identities": {"email": "email"},
            "columns": [column(name) for name in names],
        }
    ]


# --- SQLite: what the file holds, whatever the declared type.


def test_sqlite_values_are_staged_as_the_file_holds_them(tmp_path, monkeypatch):
    """SQLite keeps a NUMERIC column's 54.5 as a REAL and 121 (inserted as 121.0) as an
    INTEGER, a DECIMAL(10,2)'s '12.50' as the REAL 12.5, a DATETIME as the text it was given:
    they are staged so, not as SQLAlchemy's Decimal('54.5000000000') (ten decimals, rounded:
    0.12345678901234 became 0.1234567890) or a date parsed from the text (which fails on any
    other format). A column may hold a blob, a text and a number in three rows."""
    path = tmp_path / "typed.sqlite3"
    names = ["id", "email", "amount", "whole", "price", "fine", "big", "ratio", "infinite"]
    names += ["paid", "born", "seen", "odd_date", "photo", "note", "mixed"]
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE typed (id INTEGER PRIMARY KEY, email TEXT, amount NUMERIC, "
            "whole NUMERIC, price DECIMAL(10, 2), fine NUMERIC, big INTEGER, ratio REAL, "
            "infinite REAL, paid BOOLEAN, born DATE, seen DATETIME, odd_date DATETIME, "
            "photo BLOB, note TEXT, mixed)"
        )
        db.execute("CREATE INDEX typed_email ON typed (lower(email))")
        first = {
            "amount": 54.5,
            "whole": 121.0,
            "price": "12.50",
            "fine": 0.12345678901234,
            "big": 2**53 + 1,
            "ratio": 0.1,
            "infinite": 1e999,
            "paid": True,
            "born": "1990-05-17",
            "seen": "2025-01-02 03:04:05",
            "odd_date": "17/05/1990",
            "photo": b"\x00\xff",
            "note": "",
            "mixed": b"\x01",
        }
        rows = [
            {"id": 1, "email": SUBJECT_EMAIL, **first},
            {"id": 2, "email": SUBJECT_EMAIL, "infinite": -1e999, "paid": False, "mixed": "text"},
            {"id": 3, "email": SUBJECT_EMAIL, "mixed": 7},
            {"id": 4, "email": "piet@example.org", "amount": 1.5},
        ]
        statement = f"INSERT INTO typed VALUES ({', '.join(':' + name for name in names)})"  # noqa: S608
        db.executemany(statement, [{name: row.get(name) for name in names} for row in rows])
    assert sqlite3.connect(path).execute("SELECT typeof(whole) FROM typed").fetchone() == (
        "integer",
    )
    monkeypatch.setenv(SHOP_URL_ENV, f"sqlite:///{path}")
    reader, manifest = staged(search(typed_table(names)), tmp_path / "run")
    assert manifest["tables"]["typed"]["rows"] == 3
    lines, fields, text = table_of(reader, "typed")
    check(
        by_id(lines, fields),
        {
            "1": {
                "amount": (number("54.5"), "54.5"),
                "whole": (number("121"), "121"),
                "price": (number("12.5"), "12.5"),
                "fine": (number("0.12345678901234"), "0.12345678901234"),
                "big": (number("9007199254740993"), "9007199254740993"),
                "ratio": (number("0.1"), "0.1"),
                "infinite": ("Infinity", "Infinity"),
                "paid": (number("1"), "1"),  # SQLite has no truth values: TRUE is 1
                "born": ("1990-05-17", "1990-05-17"),
                "seen": ("2025-01-02 03:04:05", "2025-01-02 03:04:05"),
                "odd_date": ("17/05/1990", "17/05/1990"),
                "photo": ("AP8=", "AP8="),
                "note": ("", ""),
                "mixed": ("AQ==", "AQ=="),
            },
            "2": {
                "amount": (None, ""),
                "infinite": ("-Infinity", "-Infinity"),
                "paid": (number("0"), "0"),
                "note": (None, ""),
                "mixed": ("text", "text"),
            },
            "3": {"mixed": (number("7"), "7")},
        },
    )
    # An empty text and a NULL differ in the CSV too: "" against nothing (as PostgreSQL's
    # COPY writes them).
    first, second = text.splitlines()[1:3]
    assert ',"",' in first and ",," not in first.replace(',"",', "")
    assert ',"",' not in second


# --- PostgreSQL: what psycopg gives exactly, PostgreSQL's text for the rest.


def test_postgresql_values_are_staged_as_the_database_holds_them(pg, tmp_path):  # noqa: F811
    """numeric(10,2) holding 54.5 is 54.50 and 121 is 121.00 (what PostgreSQL holds), as
    JSON numbers with those digits; an unconstrained numeric keeps all its digits, NaN and
    the infinities are said in PostgreSQL's words; a bigint beyond 2**53 and a numeric beyond
    64 bits are exact; real and double keep their shortest text; dates and times in ISO 8601,
    a timestamptz as its instant in UTC; bytea in base64; json, arrays and intervals as
    PostgreSQL writes them (not Python's dict, list or timedelta of 30-day months); a date of
    'infinity' as that word, where psycopg alone fails the whole search."""
    names = ["id", "email", "amount", "whole", "tiny", "free", "big", "huge", "ratio"]
    names += ["single", "paid", "born", "seen", "seen_tz", "at_time", "at_timetz", "photo"]
    names += ["note", "prefs", "tags", "period", "until", "code"]
    pg.run(
        "CREATE TABLE typed (id INTEGER PRIMARY KEY, email VARCHAR(200), "
        "amount NUMERIC(10, 2), whole NUMERIC(10, 2), tiny NUMERIC(20, 10), free NUMERIC, "
        "big BIGINT, huge NUMERIC(30, 0), ratio DOUBLE PRECISION, single REAL, paid BOOLEAN, "
        "born DATE, seen TIMESTAMP, seen_tz TIMESTAMPTZ, at_time TIME, at_timetz TIMETZ, "
        "photo BYTEA, note TEXT, prefs JSONB, tags TEXT[], period INTERVAL, until DATE, "
        "code UUID)",
        "CREATE INDEX typed_email ON typed (lower(email))",
        "SET TIME ZONE 'Europe/Amsterdam'",
        "INSERT INTO typed VALUES (1, 'sanne.jansen@example.org', 54.5, 121, 0.0000001, "
        "0.1000000000000000055511151231257827, 9007199254740993, "
        "123456789012345678901234567890, 0.1, 0.1, true, '1990-05-17', "
        "'2025-01-02 03:04:05.000006', '2025-01-02 03:04:05+01', '10:30', '10:30+02', "
        "'\\x00ff', '', '{\"b\": 54.50, \"a\": [1, 2]}', '{x,\"y z\"}', '1 mon 2 days', "
        "'infinity', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
        "INSERT INTO typed (id, email, free, ratio, single, paid, until) VALUES "
        "(2, 'sanne.jansen@example.org', 'NaN', 'NaN', '-Infinity', false, '-infinity')",
        "INSERT INTO typed (id, email, amount) VALUES (3, 'piet@example.org', 1)",
    )
    reader, _ = staged(search(typed_table(names)), tmp_path / "run")
    lines, fields, _ = table_of(reader, "typed")
    assert len(lines) == 2
    check(
        by_id(lines, fields),
        {
            "1": {
                "amount": (number("54.50"), "54.50"),
                "whole": (number("121.00"), "121.00"),
                "tiny": (number("0.0000001000"), "0.0000001000"),
                "free": (
                    number("0.1000000000000000055511151231257827"),
                    "0.1000000000000000055511151231257827",
                ),
                "big": (number("9007199254740993"), "9007199254740993"),
                "huge": (
                    number("123456789012345678901234567890"),
                    "123456789012345678901234567890",
                ),
                "ratio": (number("0.1"), "0.1"),
                "single": (number("0.1"), "0.1"),
                "paid": (True, "true"),
                "born": ("1990-05-17", "1990-05-17"),
                "seen": ("2025-01-02T03:04:05.000006", "2025-01-02T03:04:05.000006"),
                "seen_tz": ("2025-01-02T02:04:05+00:00", "2025-01-02T02:04:05+00:00"),
                "at_time": ("10:30:00", "10:30:00"),
                "at_timetz": ("10:30:00+02:00", "10:30:00+02:00"),
                "photo": ("AP8=", "AP8="),
                "note": ("", ""),
                "prefs": ('{"a": [1, 2], "b": 54.50}', '{"a": [1, 2], "b": 54.50}'),
                "tags": ('{x,"y z"}', '{x,"y z"}'),
                "period": ("1 mon 2 days", "1 mon 2 days"),
                "until": ("infinity", "infinity"),
                "code": (
                    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                ),
            },
            "2": {
                "amount": (None, ""),
                "free": ("NaN", "NaN"),
                "ratio": ("NaN", "NaN"),
                "single": ("-Infinity", "-Infinity"),
                "paid": (False, "false"),
                "note": (None, ""),
                "until": ("-infinity", "-infinity"),
            },
        },
    )


# --- MariaDB: what PyMySQL gives exactly, MariaDB's text for TIME.


def test_mariadb_values_are_staged_as_the_database_holds_them(maria, tmp_path):  # noqa: F811
    """DECIMAL(10,2) holding 54.5 is 54.50 (as MariaDB holds it), a BIGINT UNSIGNED's
    2**64 - 1 exact, FLOAT and DOUBLE their shortest text, a BOOLEAN its 1 (MariaDB's BOOLEAN
    is a TINYINT), dates in ISO 8601, a TIME as MariaDB writes it (PyMySQL's timedelta would say
    '-1 day, 23:00:00' for -01:00:00), JSON and SET as their text, a BIT as its number, a
    BLOB in base64."""
    names = ["id", "email", "amount", "whole", "tiny", "big", "ubig", "ratio", "single"]
    names += ["paid", "born", "seen", "at_time", "span", "photo", "note", "prefs", "flags"]
    names += ["bits"]
    maria.run(
        "CREATE TABLE typed (id INT PRIMARY KEY, email VARCHAR(200), amount DECIMAL(10, 2), "
        "whole DECIMAL(10, 2), tiny DECIMAL(20, 10), big BIGINT, ubig BIGINT UNSIGNED, "
        "ratio DOUBLE, single FLOAT, paid BOOLEAN, born DATE, seen DATETIME(6), "
        "at_time TIME, span TIME, photo BLOB, note TEXT, prefs JSON, flags SET('a', 'b'), "
        "bits BIT(8))",
        "CREATE INDEX typed_email ON typed (email)",
        "INSERT INTO typed VALUES (1, 'sanne.jansen@example.org', 54.5, 121, 0.0000001, "
        "9007199254740993, 18446744073709551615, 0.1, 0.1, TRUE, '1990-05-17', "
        "'2025-01-02 03:04:05.000006', '10:30:00', '-01:00:00', x'00ff', '', "
        "'{\"b\": 54.50}', 'a,b', b'00000101')",
        "INSERT INTO typed (id, email, span, paid) VALUES "
        "(2, 'sanne.jansen@example.org', '838:59:59', FALSE)",
        "INSERT INTO typed (id, email, amount) VALUES (3, 'piet@example.org', 1)",
    )
    reader, _ = staged(search(typed_table(names)), tmp_path / "run")
    lines, fields, _ = table_of(reader, "typed")
    check(
        by_id(lines, fields),
        {
            "1": {
                "amount": (number("54.50"), "54.50"),
                "whole": (number("121.00"), "121.00"),
                "tiny": (number("0.0000001000"), "0.0000001000"),
                "big": (number("9007199254740993"), "9007199254740993"),
                "ubig": (number("18446744073709551615"), "18446744073709551615"),
                "ratio": (number("0.1"), "0.1"),
                "single": (number("0.1"), "0.1"),
                "paid": (number("1"), "1"),
                "born": ("1990-05-17", "1990-05-17"),
                "seen": ("2025-01-02T03:04:05.000006", "2025-01-02T03:04:05.000006"),
                "at_time": ("10:30:00", "10:30:00"),
                "span": ("-01:00:00", "-01:00:00"),
                "photo": ("AP8=", "AP8="),
                "note": ("", ""),
                "prefs": ('{"b": 54.50}', '{"b": 54.50}'),
                "flags": ("a,b", "a,b"),
                "bits": (number("5"), "5"),
            },
            "2": {
                "amount": (None, ""),
                "span": ("838:59:59", "838:59:59"),
                "paid": (number("0"), "0"),
                "note": (None, ""),
            },
        },
    )


# --- A processor's JSON: each number as it was sent.


def test_a_processor_s_numbers_are_staged_with_the_digits_it_sent(
    garbage,  # noqa: F811
    monkeypatch,
    tmp_path,
):
    """orjson reads 54.50 as the float 54.5, 0.1000000000000000055511151231257827 as 0.1 and
    18446744073709551616 as 1.8446744073709552e+19, and refuses 1e400: each is kept as the
    processor wrote it, a number in the JSON and the same text in the CSV; a structure is
    kept as its JSON text with its numbers as sent."""
    base = garbage.base("exact-numbers")
    source = source_at(base, monkeypatch)
    batches = list(source.results(f"{base}/opendsr/v1/results/r1", {"email": SUBJECT_EMAIL}))
    reader, _ = staged(batches, tmp_path / "run")
    lines, fields, _ = table_of(reader, "deliveries")
    sent = {
        "1": "54.50",
        "2": "121",
        "3": "0.1000000000000000055511151231257827",
        "4": "18446744073709551616",
        "5": "1e400",
        "6": "-0.0",
        "7": "9007199254740993",
        "9": "1" + "0" * 5000,
    }
    check(
        by_id(lines, fields),
        {
            **{id_: {"sender": (number(text), text)} for id_, text in sent.items()},
            "8": {"sender": ('{"amount":54.50}', '{"amount":54.50}')},
        },
    )


# --- The demo's systems, through the package.


def _contracts(archive) -> tuple[bytes, str]:
    return (
        archive.read("data/contracten/contracts.json"),
        archive.read("data/contracten/contracts.csv").decode(),
    )


def test_the_demo_s_amounts_reach_the_package_as_its_database_holds_them(world, committed):
    """contractstatus's SQLite holds Sanne's monthly amounts as 54.5 (a REAL) and 121 (an
    INTEGER, inserted as 121.00): the package's JSON has the numbers 54.5 and 121, its CSV
    and index.html the texts 54.5 and 121, never 54.5000000000 or "121.0000000000"."""
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["contractstatus"], officer)
    settle(committed, case, officer)
    archive = unzip(respond(committed, case, officer))
    data, text = _contracts(archive)
    amounts = [tokens(line)["monthly_eur"] for line in data.strip().strip(b"[]").split(b",\n")]
    assert sorted(amounts) == [number("121"), number("54.5")]
    assert [row["monthly_eur"] for row in csv.DictReader(io.StringIO(text))] == ["54.5", "121"]
    index = archive.read("index.html").decode()
    assert "<td>54.5</td>" in index and "<td>121</td>" in index
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"0000000000" not in everything


def test_withheld_parts_leave_every_other_value_exact_and_the_review_shows_the_csv_s_text(
    world, committed
):
    """With a field withheld the package's tables are written row by row from the staged
    JSON: each number keeps its staged text there too (not read back through a float), the
    CSV the same texts as unwithheld, and the officer's review page shows those texts."""
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"]["contractstatus"], officer)
    settle(committed, case, officer)
    search = case.searches.get(system_name="contracten")
    client = officer_client(officer)
    page = client.get(reverse("fulfilment_table", args=[search.pk, "contracts"]))
    assert "<td>54.5</td>" in page.content.decode() and "<td>121</td>" in page.content.decode()
    url = reverse("fulfilment_withhold", args=[search.pk, "contracts"])
    assert client.post(url, {"column": "iban", "reason": "A test."}).status_code == 302
    archive = unzip(respond(committed, case, officer))
    data, text = _contracts(archive)
    rows = json.loads(data, parse_float=str, parse_int=str)
    assert sorted(row["monthly_eur"] for row in rows) == ["121", "54.5"]
    assert all(row["iban"] is None for row in rows)
    assert [row["monthly_eur"] for row in csv.DictReader(io.StringIO(text))] == ["54.5", "121"]
    index = archive.read("index.html").decode()
    assert "<td>54.5</td>" in index and "<td>121</td>" in index


def test_text_of_shows_each_staged_value_as_the_csv_writes_it():
    from fulfilment.searches.staging import parse_row, text_of

    row = parse_row(b'{"a":54.50,"b":121,"c":true,"d":null,"e":"x","f":1e400,"g":-0.0}')
    assert [text_of(value) for value in row.values()] == [
        "54.50",
        "121",
        "true",
        None,
        "x",
        "1e400",
        "-0.0",
    ]
    assert math.isclose(row["a"], 54.5) and row["b"] == 121


def test_a_number_s_text_survives_the_record_of_a_file_key(tmp_path):
    """A file named by a row whose key is a decimal is staged with the key's text (the
    manifest is JSON: a Decimal would not go in)."""
    from decimal import Decimal

    key = vault.new_key()
    stage = Stage(tmp_path / "run", key)
    stage.add_file("photos", Decimal("7.50"), "path", io.BytesIO(b"jpeg"), "a.jpg")
    manifest = stage.close()
    assert manifest["files"][0]["record"] == "7.50"
    assert manifest["files"][0]["name"].startswith("photos/000001-7.50-")
