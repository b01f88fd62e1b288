"""Systems files: where each controller keeps the data of the people it serves, declared as data.

One TOML file a controller, ``controllers/systems/<slug>.toml``, beside its policy. A system is
one of three kinds:

- ``sql``: a database reached through SQLAlchemy Core (PostgreSQL, MariaDB/MySQL, SQLite). Its
  tables, the identity columns that find the subject, the links that lead from those rows to
  related ones, and for every column its data category (one of the policy's), whether the
  subject provided it (Art. 20) and what erasure does to it.
- ``http``: a processor's or SaaS API speaking the OpenDSR-shaped protocol of
  ``fulfilment.systems.connectors.http``; its tables describe the results it returns.
- ``manual``: a system without an API (paper files, a mailbox, a SaaS screen): its owner is asked
  by mail and answers in the case file.

Connection secrets are never in the file: a system names the environment variable that holds
its URL (``url_env``) and, for HTTP, its signing key (``secret_env``). For the demo only, a
``demo_url`` (without credentials; ``{var}`` is the demo's folder, ``{processor}`` its stub
processor's address) is used when the variable is unset.

As with policies: ``load_systems_files`` validates every file before it writes anything and then
replaces the systems of each controller in one transaction; a ``PolicyError`` names the file,
the key and the fault. ``dump_systems`` writes the canonical form back (``load → export`` is
byte for byte). A table the links cannot reach from an identity column is an error, not a
silent gap. The format is documented in ``controllers/systems/README.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import tomli_w
from django.db import transaction

from .models import Controller, RecipientIdentity, System, SystemKind, Tristate
from .policy import PolicyError, _check_table, normalise, read_toml, toml_files
from .schema import Field

SCHEMA_VERSION = 1
IDENTITY_KINDS = ("email", "customer_number", "phone")
# What erasure does to a row: delete it, update some of its columns, or keep it (under a
# stated legal ground, e.g. a statutory retention period: Art. 17(3)(b)).
TABLE_ERASURE = ("delete", "update", "keep")
# What an "update" does to a column: empty it, or replace it with a keyed pseudonym.
COLUMN_ERASURE = ("", "null", "pseudonymise")
# What an objection (Art. 21) or a withdrawal of consent (Art. 7(3)) does to a table's rows:
# delete them (a newsletter subscription), or set a column (an opt-out flag, a date).
ACTIONS = ("delete", "set")
# A value a "set" writes: text, converted to the column's type; "{now}" is the moment it runs.
NOW = "{now}"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
_ENV = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
DEMO_PLACEHOLDERS = ("var", "processor")


def _choice(values: Iterable[str], **kwargs: Any) -> Field:
    return Field("choice", choices=tuple(values), **kwargs)


COLUMN = {
    "name": Field("str", required=True),
    "label": Field("str"),  # how the subject's package and the officer's review name it
    "category": Field("str", required=True),  # one of the policy's data categories
    "provided": Field("bool"),  # the subject provided it: part of the Art. 20 package
    "file": Field("bool"),  # its value is the path of a file under the system's files folder
    "erasure": _choice(COLUMN_ERASURE),
    # The subject may have it corrected (Art. 16): an officer approves each correction. On an
    # HTTP system's table: its API takes a rectification of it (the corrected value is sent).
    "rectifiable": Field("bool"),
    # Its value cannot identify a person, on its own or with what erasure keeps of the row (a
    # date, an amount, a product). Absent, a column is taken to identify: a kept row whose
    # every column is emptied by erasure or declared so no longer identifies the subject.
    "anonymous": Field("bool"),
}
IDENTITIES = {kind: Field("str") for kind in IDENTITY_KINDS}
LINK = {
    "table": Field("str", required=True),  # the parent table
    "column": Field("str", required=True),  # the column of this table ...
    "parent_column": Field("str", required=True),  # ... that holds this column's value
}
# How the system marks a table's rows restricted (Art. 18), exactly one way: its own flag, a
# ``column`` set to ``value`` and set back to ``lifted`` when the restriction is lifted; through
# its parent's flag (``via = "parent"``: the application treats the rows of a restricted parent
# as restricted, e.g. a restricted account's orders); or ``cannot``: why its rows cannot be
# marked, in the controller's words (said in the plan and quoted in the letter).
RESTRICTION_VIA = ("", "parent")
RESTRICTION = {
    "column": Field("str"),
    "value": Field("str"),
    "lifted": Field("str"),
    "via": _choice(RESTRICTION_VIA),
    "cannot": Field("text"),
}
ACTION = {
    "action": _choice(ACTIONS, required=True),
    # What processing the action stops, in the controller's words (e.g. "Toezending van de
    # nieuwsbrief"): the letter says it stopped. Required.
    "processing": Field("text"),
    "column": Field("str"),  # with "set"
    "value": Field("str"),  # with "set"
    # Processing for direct marketing: an objection to it is absolute (Art. 21(3)).
    "marketing": Field("bool"),
}
TABLE = {
    "name": Field("str", required=True),
    "label": Field("str"),
    "key": Field("str", required=True),  # a column that tells its rows apart
    "identities": Field("table", schema=IDENTITIES),
    "reached_from": Field("table", schema=LINK),
    "erasure": _choice(TABLE_ERASURE, default="delete"),
    # Required when erasure = "keep"; with "update", why the columns it leaves are kept.
    "keep_ground": Field("text"),
    # How long what is kept is kept, in years from the erasure (absent: the file does not say).
    "keep_years": Field("int", maximum=100),
    "restriction": Field("table", schema=RESTRICTION),
    "objection": Field("table", schema=ACTION),
    "withdrawal": Field("table", schema=ACTION),
    "columns": Field("tables", required=True, schema=COLUMN),
}
# A manual system's answer to erasure: its owner deletes, or keeps (and restricts) on a ground.
MANUAL_ERASURE = ("delete", "keep")
_COMMON = {
    "name": Field("str", required=True),
    "title": Field("str", required=True),
    "kind": _choice(SystemKind.values, required=True),
    "description": Field("text"),
    # Who answers for the system: asked by mail for a manual task, told when collection fails.
    "owner": Field("email"),
}
KIND_SCHEMAS: dict[str, dict[str, Field]] = {
    SystemKind.SQL: {
        **_COMMON,
        "url_env": Field("str", required=True),
        "demo_url": Field("str"),
        "files_env": Field("str"),
        "demo_files": Field("str"),
        "timeout_seconds": Field("int", default=30, maximum=3600),
        "tables": Field("tables", required=True, schema=TABLE),
    },
    SystemKind.HTTP: {
        **_COMMON,
        "url_env": Field("str", required=True),
        "demo_url": Field("str"),
        "secret_env": Field("str", required=True),
        "timeout_seconds": Field("int", default=30, maximum=3600),
        "tables": Field("tables", required=True, schema=TABLE),
    },
    SystemKind.MANUAL: {
        **_COMMON,
        "instructions": Field("text"),  # what the owner should search, and how to export it
        "categories": Field("strs", required=True),
        "erasure": _choice(MANUAL_ERASURE, default="delete"),
        "keep_ground": Field("text"),
        "keep_years": Field("int", maximum=100),
    },
}
# The two exceptions of Art. 19: telling a recipient proves impossible, or involves a
# disproportionate effort.
EXCEPTIONS = ("impossible", "disproportionate_effort")
# Who is told of a change to the subject's data (Art. 19, and the processors of an objection
# or a withdrawal of consent): each of the policy's recipients the data was disclosed to, by
# mail, through an HTTP system's own request (with a mail address for what its API does not
# take), or not, under one of the two exceptions, in the controller's words. What it receives
# narrows when it is concerned: the systems whose data it receives, and whether it receives
# data only on occasion (the officer then records, case by case, whether this subject's went).
# Who a recipient is (CJEU C-154/21): each company or authority behind a recipient the statement
# names by its category, where it is established, outside the EEA the safeguard (Art. 15(2)),
# and the systems whose data it receives (none named: those of its entry).
IDENTITY = {
    "name": Field("str", required=True),
    "established": Field("str"),
    "outside_eea": _choice(Tristate.values, default=Tristate.UNKNOWN.value),
    "safeguard": Field("text"),
    "receives": Field("strs"),
}
NOTIFY = {
    "recipient": Field("str", required=True),  # the policy's [[recipients]] name
    "email": Field("email"),
    # An HTTP system of this file: its request is the notice (``email`` for the rights its
    # API does not take).
    "system": Field("str"),
    "unreachable": Field("text"),  # why it cannot be told, in the controller's words
    "exception": _choice(("", *EXCEPTIONS)),  # with unreachable: which exception of Art. 19
    "receives": Field("strs"),  # the systems whose data it receives (none named: all of them)
    # When it receives data, if only on occasion (a legal order, the subject's consent).
    "occasional": Field("text"),
    # Who it is: the access letter names them (controllers.models.RecipientIdentity).
    "identities": Field("tables", schema=IDENTITY),
}
# The file's top level; its [[systems]] are each checked by their kind's schema.
FILE = {
    "schema": Field("int", required=True),
    "controller": Field("str", required=True),
    "notify": Field("tables", schema=NOTIFY),
}


# --- Typed views of a stored system, for the connectors.


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    label: str
    category: str
    provided: bool
    file: bool
    erasure: str
    rectifiable: bool = False
    anonymous: bool = False


@dataclass(frozen=True)
class RestrictionSpec:
    """How a table's rows are restricted: its own flag (``column``), through its parent's
    (``via == "parent"``), or not at all, for the reason ``cannot`` gives."""

    column: str = ""
    value: str = ""
    lifted: str = ""
    via: str = ""
    cannot: str = ""


@dataclass(frozen=True)
class ActionSpec:
    action: str  # delete or set
    column: str
    value: str
    marketing: bool
    processing: str = ""  # what it stops, in the controller's words


@dataclass(frozen=True)
class LinkSpec:
    table: str
    column: str
    parent_column: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    label: str
    key: str
    identities: dict[str, str]
    reached_from: LinkSpec | None
    erasure: str
    keep_ground: str
    columns: tuple[ColumnSpec, ...]
    keep_years: int = 0
    restriction: RestrictionSpec | None = None
    objection: ActionSpec | None = None
    withdrawal: ActionSpec | None = None

    def column(self, name: str) -> ColumnSpec:
        return next(column for column in self.columns if column.name == name)

    @property
    def flag(self) -> RestrictionSpec | None:
        """The table's own restriction flag (a column it sets), if it declares one."""
        restriction = self.restriction
        return restriction if restriction is not None and restriction.column else None

    @property
    def provided(self) -> tuple[ColumnSpec, ...]:
        return tuple(column for column in self.columns if column.provided)


@dataclass(frozen=True)
class SystemSpec:
    name: str
    title: str
    kind: str
    description: str
    owner: str
    url_env: str
    demo_url: str
    files_env: str
    demo_files: str
    secret_env: str
    timeout_seconds: int
    instructions: str
    categories: tuple[str, ...]
    tables: tuple[TableSpec, ...]
    # A manual system's erasure: "delete" or "keep" (its tables carry their own).
    erasure: str = "delete"
    keep_ground: str = ""
    keep_years: int = 0

    def table(self, name: str) -> TableSpec:
        return next(table for table in self.tables if table.name == name)

    @property
    def all_categories(self) -> tuple[str, ...]:
        """The data categories the system holds, in the file's order."""
        found = list(self.categories)
        for table in self.tables:
            found += [column.category for column in table.columns]
        return tuple(dict.fromkeys(found))


def spec_of(data: Mapping[str, Any]) -> SystemSpec:
    """The typed view of one system's (canonical) table."""

    def action(item: Mapping[str, Any] | None) -> ActionSpec | None:
        if not item:
            return None
        return ActionSpec(
            action=item["action"],
            column=item.get("column", ""),
            value=item.get("value", ""),
            marketing=item.get("marketing", False),
            processing=item.get("processing", ""),
        )

    def table(item: Mapping[str, Any]) -> TableSpec:
        link = item.get("reached_from")
        restriction = item.get("restriction")
        return TableSpec(
            name=item["name"],
            label=item.get("label", "") or item["name"],
            key=item["key"],
            identities={k: v for k, v in (item.get("identities") or {}).items() if v},
            reached_from=LinkSpec(**link) if link else None,
            erasure=item.get("erasure", "delete"),
            keep_ground=item.get("keep_ground", ""),
            columns=tuple(
                ColumnSpec(
                    name=c["name"],
                    label=c.get("label", "") or c["name"],
                    category=c["category"],
                    provided=c.get("provided", False),
                    file=c.get("file", False),
                    erasure=c.get("erasure", ""),
                    rectifiable=c.get("rectifiable", False),
                    anonymous=c.get("anonymous", False),
                )
                for c in item["columns"]
            ),
            keep_years=item.get("keep_years", 0),
            restriction=RestrictionSpec(**restriction) if restriction else None,
            objection=action(item.get("objection")),
            withdrawal=action(item.get("withdrawal")),
        )

    return SystemSpec(
        name=data["name"],
        title=data["title"],
        kind=data["kind"],
        description=data.get("description", ""),
        owner=data.get("owner", ""),
        url_env=data.get("url_env", ""),
        demo_url=data.get("demo_url", ""),
        files_env=data.get("files_env", ""),
        demo_files=data.get("demo_files", ""),
        secret_env=data.get("secret_env", ""),
        timeout_seconds=data.get("timeout_seconds", 30),
        instructions=data.get("instructions", ""),
        categories=tuple(data.get("categories", ())),
        tables=tuple(table(item) for item in data.get("tables", ())),
        erasure=data.get("erasure", "delete") if data["kind"] == SystemKind.MANUAL else "",
        keep_ground=data.get("keep_ground", "") if data["kind"] == SystemKind.MANUAL else "",
        keep_years=data.get("keep_years", 0) if data["kind"] == SystemKind.MANUAL else 0,
    )


def erased_link(table: TableSpec) -> bool:
    """Whether erasure empties (or pseudonymises) the column that links the table's rows to
    their parent's."""
    link = table.reached_from
    return bool(link and table.erasure == "update" and table.column(link.column).erasure)


def after_erasure(spec: SystemSpec, table: TableSpec) -> str:
    """For kept rows whose link to the subject erasure cuts (an identity column, or the link to
    the parent, emptied): "findable" (their keys are recorded, so a later access request from
    the subject's address finds them, until their ``keep_years`` end) or "anonymous" (every
    column is emptied or declared anonymous, and no kept row hangs from them: they no longer
    identify the subject). "" where the link is not cut (the search finds them as before)."""
    if table.erasure != "update":
        return ""
    erased = {c.name for c in table.columns if c.erasure}
    if table.identities:
        # Any identity emptied: a later search may look by that one (the keys found twice are
        # handed over once).
        if not set(table.identities.values()) & erased:
            return ""
    elif not erased_link(table):
        return ""
    children = any(
        t.reached_from and t.reached_from.table == table.name and t.erasure != "delete"
        for t in spec.tables
    )
    emptied = all(c.erasure == "null" or c.anonymous for c in table.columns)
    return "anonymous" if emptied and not children else "findable"


# --- Reading and checking a file.


def canonical(data: Mapping[str, Any], schema: Mapping[str, Field]) -> dict[str, Any]:
    """Every key of the schema in its order, absent ones at their default; an absent table, an
    absent [[tables]] list and an absent key without a default (TOML has no null) are left out."""
    out: dict[str, Any] = {}
    for key, field in schema.items():
        if key not in data:
            if field.kind not in ("table", "tables") and field.absent() is not None:
                out[key] = field.absent()
            continue
        value = data[key]
        if field.kind == "table":
            value = canonical(value, field.schema or {})
        elif field.kind == "tables":
            value = [canonical(item, field.schema or {}) for item in value]
        out[key] = value
    return out


def validate_systems(
    data: Mapping[str, Any],
    path: str,
    categories: Iterable[str] | None = None,
    recipients: Iterable[str] | None = None,
) -> None:
    """Check one parsed systems file; raises PolicyError. ``categories`` and ``recipients``:
    the names of the controller's data categories and recipients, when known (the loader
    passes them)."""
    _check_table(path, "", FILE, {key: value for key, value in data.items() if key != "systems"})
    if "systems" not in data:
        raise PolicyError(path, "systems", "missing")
    if data["schema"] != SCHEMA_VERSION:
        raise PolicyError(path, "schema", f"unsupported version {data['schema']}")
    systems = data["systems"]
    if not isinstance(systems, list) or not all(isinstance(s, dict) for s in systems):
        raise PolicyError(path, "systems", "expected an array of tables ([[systems]])")
    known = tuple(dict.fromkeys(categories)) if categories is not None else None
    names: set[str] = set()
    for index, system in enumerate(systems):
        key = f"systems[{index}]"
        kind = system.get("kind")
        if kind not in KIND_SCHEMAS:
            raise PolicyError(path, f"{key}.kind", f"expected one of {', '.join(KIND_SCHEMAS)}")
        _check_table(path, key, KIND_SCHEMAS[kind], system)
        _check_system(path, key, system, known)
        if system["name"] in names:
            raise PolicyError(path, f"{key}.name", f"{system['name']!r} is declared twice")
        names.add(system["name"])
    kinds = {s["name"]: s["kind"] for s in systems}
    _check_notify(path, data.get("notify", []), kinds, recipients)


def _check_notify(
    path: str,
    entries: list[Mapping[str, Any]],
    systems: Mapping[str, str],
    recipients: Iterable[str] | None,
) -> None:
    """Each entry names a recipient of the policy once, and says how it is reached: by mail,
    through an HTTP system (with a mail address for what its API does not take), or not, under
    an exception of Art. 19 with the controller's reason; or that it receives data only on
    occasion (then the officer records, case by case, whether the subject's went to it, and
    gives the address if so). ``systems``: the file's systems by name, with their kind."""
    known = tuple(dict.fromkeys(recipients)) if recipients is not None else None
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        key = f"notify[{index}]"
        ways = {way for way in ("email", "system", "unreachable") if entry.get(way, "").strip()}
        occasional = bool(entry.get("occasional", "").strip())
        if "unreachable" in ways and len(ways) > 1:
            raise PolicyError(
                path, key, "a recipient that cannot be told (unreachable) has no email or system"
            )
        if not ways and not occasional:
            raise PolicyError(
                path,
                key,
                "give one way to tell it: email, system (an HTTP system, with an email for what "
                "its API does not take) or unreachable (with its exception); or, for a recipient "
                "that receives data only on occasion, occasional",
            )
        if "unreachable" in ways and not entry.get("exception"):
            raise PolicyError(
                path,
                f"{key}.exception",
                f"name the exception of Art. 19: {' or '.join(EXCEPTIONS)}",
            )
        if entry.get("exception") and "unreachable" not in ways:
            raise PolicyError(path, f"{key}.unreachable", "an exception says why, in unreachable")
        if entry.get("system") and systems.get(entry["system"]) != SystemKind.HTTP:
            raise PolicyError(path, f"{key}.system", f"{entry['system']!r} is not an HTTP system")
        for position, name in enumerate(entry.get("receives", [])):
            if name not in systems:
                raise PolicyError(
                    path, f"{key}.receives[{position}]", f"{name!r} is not a system of this file"
                )
        for number, identity in enumerate(entry.get("identities", [])):
            where = f"{key}.identities[{number}]"
            if not identity["name"].strip():
                raise PolicyError(path, f"{where}.name", "name the recipient")
            for position, name in enumerate(identity.get("receives", [])):
                if name not in systems:
                    raise PolicyError(
                        path,
                        f"{where}.receives[{position}]",
                        f"{name!r} is not a system of this file",
                    )
        if known is not None and entry["recipient"] not in known:
            valid = "its recipients: " + (", ".join(repr(name) for name in known) or "none")
            raise PolicyError(
                path,
                f"{key}.recipient",
                f"{entry['recipient']!r} is not a recipient of the policy ({valid})",
            )
        if entry["recipient"] in seen:
            raise PolicyError(path, f"{key}.recipient", f"{entry['recipient']!r} is named twice")
        seen.add(entry["recipient"])


# A query parameter that carries a secret, by its name (lower case, without "-", "_" or "."):
# libpq's password, sslpassword, passfile and sslkey, an API's token, api_key, access_key,
# signature, auth or session. The name is enough: a file that needs such a parameter keeps the
# whole URL in the environment variable instead.
_SECRET_PARAMETER = re.compile(
    r"pass|pwd|secret|token|key|auth|credential|signature|session|cookie|bearer|^sig$"
)


def _secret_in(value: str) -> str | None:
    """What in a URL from the file carries a secret (described, never quoted), or None."""
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:  # an unparsable netloc ("http://[::1"): read as text, checked below
        return "a URL that cannot be read" if "@" in value or "?" in value else None
    if password is not None:
        return "a password in the URL"
    if parts.username and parts.scheme in ("http", "https"):
        return "a user name in an API's URL, where it is a key"
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_PARAMETER.search(re.sub(r"[-_.\s]", "", name.lower())):
            # A name of letters is a word (password, api_key); anything else may be the
            # secret itself, given as a bare parameter (?token123abc), and is not repeated.
            named = re.fullmatch(r"[A-Za-z_.-]{1,40}", name)
            return f"the query parameter {name!r}" if named else "a query parameter"
    return None


def _check_system(
    path: str, key: str, system: Mapping[str, Any], known: tuple[str, ...] | None
) -> None:
    def fail(sub: str, message: str) -> None:
        raise PolicyError(path, f"{key}.{sub}", message)

    if not _NAME.fullmatch(system["name"]):
        fail("name", "use lower-case letters, digits, hyphens and underscores")
    for env_key in ("url_env", "secret_env", "files_env"):
        value = system.get(env_key, "")
        if value and not _ENV.fullmatch(value):
            fail(env_key, "the name of an environment variable (A-Z, 0-9, _)")
    for demo_key in ("demo_url", "demo_files"):
        value = system.get(demo_key, "")
        # Secrets first, and never echoed: the message goes to terminals, logs and CI output.
        secret = _secret_in(value) if value else None
        if secret:
            fail(
                demo_key,
                f"no credentials in the file ({secret}): they belong in the environment "
                "variable, which the file only names",
            )
        unknown = set(_PLACEHOLDER.findall(value)) - set(DEMO_PLACEHOLDERS)
        if unknown:
            fail(demo_key, f"unknown placeholder {{{sorted(unknown)[0]}}} (known: var, processor)")
    if system.get("erasure") == "keep" and not system.get("keep_ground", "").strip():
        fail("keep_ground", "a system kept on erasure names its legal ground")
    if system["kind"] == SystemKind.MANUAL:
        if not system["categories"]:
            fail("categories", "a manual system names the categories it holds")
        for index, category in enumerate(system["categories"]):
            if known is not None and category not in known:
                fail(f"categories[{index}]", _not_a_category(category, known))
        return
    tables = system["tables"]
    if not tables:
        fail("tables", "a system has at least one table")
    by_name: dict[str, Mapping[str, Any]] = {}
    for index, table in enumerate(tables):
        _check_table_spec(path, f"{key}.tables[{index}]", system["kind"], table, known)
        if table["name"] in by_name:
            fail(f"tables[{index}].name", f"{table['name']!r} is declared twice")
        by_name[table["name"]] = table
    for index, table in enumerate(tables):
        link = table.get("reached_from")
        if not link:
            continue
        where = f"tables[{index}].reached_from"
        parent = by_name.get(link["table"])
        if parent is None or parent is table:
            fail(f"{where}.table", f"{link['table']!r} is not another table of this system")
        if link["parent_column"] not in {c["name"] for c in parent["columns"]}:
            fail(f"{where}.parent_column", f"{link['parent_column']!r} is not a column of it")
    for index, table in enumerate(tables):
        seen = [table["name"]]
        current = table
        while not any((current.get("identities") or {}).values()):
            link = current.get("reached_from")
            if not link:
                fail(
                    f"tables[{index}]",
                    f"table {table['name']!r} cannot be reached from an identity column "
                    "(give it identities, or reached_from a table that leads to one)",
                )
            if link["table"] in seen:
                fail(f"tables[{index}].reached_from", f"the links loop: {' -> '.join(seen)}")
            seen.append(link["table"])
            current = by_name[link["table"]]
    for index, table in enumerate(tables):
        # Restricted through a parent: some ancestor must carry a flag of its own.
        seen = [table["name"]]
        current = table
        while (current.get("restriction") or {}).get("via"):
            parent = by_name[current["reached_from"]["table"]]
            if parent["name"] in seen:
                break  # the links loop: said above
            seen.append(parent["name"])
            current = parent
        if current is not table and not (current.get("restriction") or {}).get("column"):
            fail(
                f"tables[{index}].restriction.via",
                f"no table it is reached from has a restriction flag of its own "
                f"({' -> '.join(seen)})",
            )
    if system["kind"] == SystemKind.SQL:
        # Kept rows an erasure unlinks are searched by their recorded keys until their
        # retention ends, never after: past it a reused key may name another person's row.
        spec = spec_of(system)
        for index, table in enumerate(tables):
            findable = after_erasure(spec, spec.table(table["name"])) == "findable"
            if findable and not table.get("keep_years"):
                fail(
                    f"tables[{index}].keep_years",
                    "erasure keeps these rows but cuts their link to the subject, so a later "
                    "access request finds them by their keys: say how long they are kept "
                    "(keep_years), after which their keys are no longer searched",
                )
    for index, table in enumerate(tables):
        link = table.get("reached_from")
        erasure = table.get("erasure", "delete")
        if not link or erasure == "delete" or by_name[link["table"]].get("erasure") != "delete":
            continue
        # Children are changed before their parents; a row that outlives its deleted parent
        # must not keep pointing at it (a foreign key would refuse the delete, or a later row
        # with the same key would inherit it).
        if erasure == "keep":
            fail(
                f"tables[{index}].erasure",
                f"kept rows would lose the {link['table']!r} row they belong to: keep or "
                "update that table instead",
            )
        column = next(c for c in table["columns"] if c["name"] == link["column"])
        if column.get("erasure") != "null":
            fail(
                f"tables[{index}].reached_from.column",
                f'{link["table"]!r} rows are deleted: erase {link["column"]!r} with "null"',
            )


def _not_a_category(name: str, known: tuple[str, ...]) -> str:
    valid = ", ".join(repr(category) for category in known) or "none: declare them first"
    return f"{name!r} is not a data category of the policy (its categories: {valid})"


def _check_table_spec(
    path: str, key: str, kind: str, table: Mapping[str, Any], known: tuple[str, ...] | None
) -> None:
    def fail(sub: str, message: str) -> None:
        raise PolicyError(path, f"{key}.{sub}", message)

    if not _IDENTIFIER.fullmatch(table["name"]):
        fail("name", "an SQL identifier (letters, digits, underscore)")
    columns = [c["name"] for c in table["columns"]]
    if not columns:
        fail("columns", "a table has at least one column")
    for index, column in enumerate(table["columns"]):
        if not _IDENTIFIER.fullmatch(column["name"]):
            fail(f"columns[{index}].name", "an SQL identifier (letters, digits, underscore)")
        if column["name"] in columns[:index]:
            fail(f"columns[{index}].name", f"{column['name']!r} is declared twice")
        if known is not None and column["category"] not in known:
            fail(f"columns[{index}].category", _not_a_category(column["category"], known))
        if column.get("erasure") and table.get("erasure", "delete") != "update":
            fail(f"columns[{index}].erasure", 'only a table whose erasure is "update" has one')
        if kind == SystemKind.HTTP and column.get("file"):
            fail(f"columns[{index}].file", "an HTTP system returns no files")
    if table["key"] not in columns:
        fail("key", f"{table['key']!r} is not a column of the table")
    for identity, column in (table.get("identities") or {}).items():
        if column and column not in columns:
            fail(f"identities.{identity}", f"{column!r} is not a column of the table")
    link = table.get("reached_from")
    if link:
        if kind == SystemKind.HTTP:
            fail("reached_from", "an HTTP system's rows each carry the identity: no links")
        if link["column"] not in columns:
            fail("reached_from.column", f"{link['column']!r} is not a column of the table")
    if kind == SystemKind.HTTP and not any((table.get("identities") or {}).values()):
        fail("identities", "every row an HTTP system returns is checked against the identity")
    if kind == SystemKind.HTTP:
        for sub in ("restriction",):
            if table.get(sub):
                fail(sub, "an HTTP system is asked through its API: no columns to set")
    restriction = table.get("restriction")
    if restriction is not None:
        ways = [
            way
            for way, given in (
                ("column", restriction.get("column", "").strip()),
                ("via", restriction.get("via", "")),
                ("cannot", restriction.get("cannot", "").strip()),
            )
            if given
        ]
        if len(ways) != 1:
            fail(
                "restriction",
                "give exactly one of column (with value and lifted: its own flag), "
                'via = "parent" (restricted through its parent\'s flag) or cannot (why not)',
            )
        if ways == ["column"]:
            if not _IDENTIFIER.fullmatch(restriction["column"]):
                fail("restriction.column", "an SQL identifier (letters, digits, underscore)")
            for sub in ("value", "lifted"):
                if sub not in restriction:
                    fail(f"restriction.{sub}", "a flag names the value it writes")
        elif restriction.get("value", "") or restriction.get("lifted", ""):
            fail("restriction.value", "only a flag (column) takes a value and lifted")
        if ways == ["via"]:
            if not table.get("reached_from"):
                fail(
                    "restriction.via", "only a table reached_from a parent is restricted through it"
                )
            if any((table.get("identities") or {}).values()):
                # A row found by an identity of its own need not belong to a restricted parent.
                fail("restriction.via", "a table with identities of its own needs its own flag")
    for index, column in enumerate(table["columns"]):
        if not column.get("anonymous"):
            continue
        identities = {c for c in (table.get("identities") or {}).values() if c}
        link = (table.get("reached_from") or {}).get("column")
        if column["name"] in identities or column["name"] == link or column.get("file"):
            fail(
                f"columns[{index}].anonymous",
                "an identity, a link or a file identifies the subject: it cannot be anonymous",
            )
    for sub in ("objection", "withdrawal"):
        action = table.get(sub)
        if not action:
            continue
        if action["action"] == "set":
            if not _IDENTIFIER.fullmatch(action.get("column", "")):
                fail(f"{sub}.column", '"set" names the column it sets (an SQL identifier)')
            if "value" not in action:
                fail(f"{sub}.value", '"set" names the value it writes')
        elif action.get("column") or action.get("value"):
            fail(f"{sub}.column", '"delete" takes no column or value')
        if sub == "withdrawal" and action.get("marketing"):
            fail(f"{sub}.marketing", "only an objection concerns direct marketing (Art. 21(3))")
        if not action.get("processing", "").strip():
            # The letter says which processing stopped, never "1 record changed".
            fail(f"{sub}.processing", "say which processing it stops (the letter quotes it)")
    erasure = table.get("erasure", "delete")
    if erasure == "keep" and not table.get("keep_ground", "").strip():
        fail("keep_ground", "a table kept on erasure names its legal ground")
    if erasure == "update" and not any(c.get("erasure") for c in table["columns"]):
        fail("erasure", 'an "update" names the columns it empties or pseudonymises')


def read_systems_file(path: Path) -> dict[str, Any]:
    """Parse and check one file (all that needs no database); failures name the file."""
    data = read_toml(path)
    validate_systems(data, str(path))
    return data


def systems_files(directory: Path) -> list[Path]:
    return toml_files(directory)


def load_systems_files(
    paths: Iterable[Path],
    *,
    check: Callable[[str, list[SystemSpec]], None] | None = None,
) -> list[tuple[Controller, list[System]]]:
    """Check every file against its controller's policy (and with ``check``, given each file's
    path and systems, against anything else: ``load_systems`` holds them against the databases
    they describe and raises PolicyError), then replace the systems of each controller in one
    transaction (all or nothing)."""
    parsed: list[tuple[Controller, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for path in paths:
        data = read_systems_file(path)
        slug = data["controller"]
        controller = Controller.objects.filter(slug=slug).first()
        if controller is None:
            raise PolicyError(str(path), "controller", f"no controller {slug!r} (load its policy)")
        if slug in seen:
            raise PolicyError(str(path), "controller", f"{slug!r} is also in {seen[slug]}")
        seen[slug] = str(path)
        categories = controller.data_categories.values_list("name", flat=True)
        recipients = controller.recipients.values_list("name", flat=True)
        validate_systems(data, str(path), categories, recipients)
        if check is not None:
            check(
                str(path), [spec_of(canonical(s, KIND_SCHEMAS[s["kind"]])) for s in data["systems"]]
            )
        parsed.append((controller, data))
    loaded = []
    with transaction.atomic():
        for controller, data in parsed:
            kept = []
            for position, item in enumerate(data["systems"]):
                spec = canonical(item, KIND_SCHEMAS[item["kind"]])
                system, _ = System.objects.update_or_create(
                    controller=controller,
                    name=spec["name"],
                    defaults={
                        "kind": spec["kind"],
                        "title": spec["title"],
                        "position": position,
                        "spec": spec,
                    },
                )
                kept.append(system)
            # The file is the truth: a system it no longer names is gone from the registry
            # (cases that searched it keep its name in their record).
            System.objects.filter(controller=controller).exclude(
                pk__in=[s.pk for s in kept]
            ).delete()
            entries = [canonical(entry, NOTIFY) for entry in data.get("notify", [])]
            # The identities are the register's rows (editable in the admin); the file's
            # replace them, as its systems replace the registry's.
            pairs = [(e, identity) for e in entries for identity in e.pop("identities", [])]
            RecipientIdentity.objects.filter(controller=controller).delete()
            RecipientIdentity.objects.bulk_create(
                RecipientIdentity(
                    controller=controller,
                    recipient=entry["recipient"],
                    position=position,
                    **{key: identity[key] for key in IDENTITY},
                )
                for position, (entry, identity) in enumerate(pairs)
            )
            controller.notify = entries
            controller.save(update_fields=["notify"])
            loaded.append((controller, kept))
    return loaded


def _with_identities(controller: Controller) -> list[dict[str, Any]]:
    """The notify entries with the register's identities of each (as edited in the admin)."""
    identities: dict[str, list[dict[str, Any]]] = {}
    for row in controller.recipient_identities.order_by("position", "pk"):
        identities.setdefault(row.recipient, []).append(
            {key: getattr(row, key) for key in IDENTITY}
        )
    entries = []
    for entry in controller.notify:
        entry = {key: value for key, value in entry.items() if key != "identities"}
        if identities.get(entry["recipient"]):
            entry["identities"] = identities[entry["recipient"]]
        entries.append(canonical(entry, NOTIFY))
    return entries


def systems_data(controller: Controller) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "controller": controller.slug,
        **({"notify": _with_identities(controller)} if controller.notify else {}),
        # Re-ordered by the schema: PostgreSQL's jsonb keeps keys in its own order, not the file's.
        "systems": [
            canonical(system.spec, KIND_SCHEMAS[system.spec["kind"]])
            for system in controller.systems.order_by("position")
        ],
    }


def dump_systems(controller: Controller) -> str:
    """The canonical TOML text of a controller's systems."""
    header = (
        f"# Systems of {controller.legal_name}: where its data about people is kept.\n"
        "# Format: controllers/systems/README.md. Secrets are never here: only the names of the\n"
        "# environment variables that hold them.\n"
    )
    return header + tomli_w.dumps(normalise(systems_data(controller)), multiline_strings=True)
