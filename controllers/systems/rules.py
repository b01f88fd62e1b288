"""The checks the systems format's declaration names for its keys, beyond their types.

A rule is given the key it is declared on, the key's value (None where the file leaves it out)
and its ``Place``: the table holding the key, the system around it and what the file and its
controller declare. It yields the faults it finds, each as the key it concerns (relative to the
table holding the rule's key) and a message for people; the validator reports the first.
Types, required keys and allowed values are checked before any rule runs, so rules read the
tables around them without checking their types again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..models import SystemKind
from .views import SystemSpec, after_erasure

Faults = Iterator[tuple[str, str]]
Rule = Callable[[str, Any, "Place"], Faults]

SCHEMA_VERSION = 1
# The two exceptions of Art. 19: telling a recipient proves impossible, or involves a
# disproportionate effort.
EXCEPTIONS = ("impossible", "disproportionate_effort")
DEMO_PLACEHOLDERS = ("var", "processor")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
_ENV = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# A query parameter that carries a secret, by its name (lower case, without "-", "_" or "."):
# libpq's password, sslpassword, passfile and sslkey, an API's token, api_key, access_key,
# signature, auth or session. The name is enough: a file that needs such a parameter keeps the
# whole URL in the environment variable instead.
_SECRET_PARAMETER = re.compile(
    r"pass|pwd|secret|token|key|auth|credential|signature|session|cookie|bearer|^sig$"
)


@dataclass(frozen=True)
class Place:
    """Where a key sits, and what the file and its controller declare around it."""

    # The controller's data categories and recipients by name (None: not known, not checked).
    categories: tuple[str, ...] | None
    recipients: tuple[str, ...] | None
    systems: Mapping[str, str]  # the file's systems: name -> kind
    table: Mapping[str, Any] = field(default_factory=dict)  # the table holding the key
    system: SystemSpec | None = None  # the system around it, typed


def _tables(value: Any) -> list[Mapping[str, Any]]:
    return list(value or [])


def _links(table: Mapping[str, Any]) -> Mapping[str, Any]:
    return table.get("reached_from") or {}


def _identities(table: Mapping[str, Any]) -> set[str]:
    return {column for column in (table.get("identities") or {}).values() if column}


def _kind(place: Place) -> str:
    return place.system.kind if place.system else ""


def _not_a_category(name: str, known: tuple[str, ...]) -> str:
    valid = ", ".join(repr(category) for category in known) or "none: declare them first"
    return f"{name!r} is not a data category of the policy (its categories: {valid})"


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


# --- Names.


def version(key: str, value: Any, place: Place) -> Faults:
    if value != SCHEMA_VERSION:
        yield key, f"unsupported version {value}"


def identifier(key: str, value: Any, place: Place) -> Faults:
    """A name that goes into SQL: only what cannot be read as anything else."""
    if value and not _IDENTIFIER.fullmatch(value):
        yield key, "an SQL identifier (letters, digits, underscore)"


def system_name(key: str, value: Any, place: Place) -> Faults:
    if not _NAME.fullmatch(value):
        yield key, "use lower-case letters, digits, hyphens and underscores"


def environment_variable(key: str, value: Any, place: Place) -> Faults:
    if value and not _ENV.fullmatch(value):
        yield key, "the name of an environment variable (A-Z, 0-9, _)"


def demo_value(key: str, value: Any, place: Place) -> Faults:
    """A demo URL or folder: no credentials (never echoed: the message goes to terminals, logs
    and CI output), and only the demo's placeholders."""
    secret = _secret_in(value) if value else None
    if secret:
        yield (
            key,
            f"no credentials in the file ({secret}): they belong in the environment variable, "
            "which the file only names",
        )
    unknown = set(_PLACEHOLDER.findall(value or "")) - set(DEMO_PLACEHOLDERS)
    if unknown:
        yield key, f"unknown placeholder {{{sorted(unknown)[0]}}} (known: var, processor)"


def unique_names(key: str, value: Any, place: Place) -> Faults:
    """Each item of an array of tables by a name of its own."""
    seen: set[str] = set()
    for index, item in enumerate(_tables(value)):
        if item["name"] in seen:
            yield f"{key}[{index}].name", f"{item['name']!r} is declared twice"
        seen.add(item["name"])


def category(key: str, value: Any, place: Place) -> Faults:
    if place.categories is not None and value not in place.categories:
        yield key, _not_a_category(value, place.categories)


def categories(key: str, value: Any, place: Place) -> Faults:
    """A manual system names the categories it holds, each one of the policy's."""
    if not value:
        yield key, "a manual system names the categories it holds"
    for index, name in enumerate(value or []):
        yield from category(f"{key}[{index}]", name, place)


# --- A table's own keys.


def a_column(key: str, value: Any, place: Place) -> Faults:
    if value not in {column["name"] for column in place.table["columns"]}:
        yield key, f"{value!r} is not a column of the table"


def identity_columns(key: str, value: Any, place: Place) -> Faults:
    for identity, column in (value or {}).items():
        if column:
            yield from a_column(f"{key}.{identity}", column, place)
    if _kind(place) == SystemKind.HTTP and not _identities(place.table):
        yield key, "every row an HTTP system returns is checked against the identity"


def link(key: str, value: Any, place: Place) -> Faults:
    if not value:
        return
    if _kind(place) == SystemKind.HTTP:
        yield key, "an HTTP system's rows each carry the identity: no links"
    yield from a_column(f"{key}.column", value["column"], place)


def columns(key: str, value: Any, place: Place) -> Faults:
    if not value:
        yield key, "a table has at least one column"


def column_fits_table(key: str, value: Any, place: Place) -> Faults:
    """What a column declares, held against its table: erasure values only where the table's
    erasure updates, no files from an API, nothing that identifies declared anonymous."""
    table = place.table
    for index, column in enumerate(_tables(value)):
        where = f"{key}[{index}]"
        if column.get("erasure") and table.get("erasure", "delete") != "update":
            yield f"{where}.erasure", 'only a table whose erasure is "update" has one'
        if _kind(place) == SystemKind.HTTP and column.get("file"):
            yield f"{where}.file", "an HTTP system returns no files"
        identifying = column["name"] in {*_identities(table), _links(table).get("column")}
        if column.get("anonymous") and (identifying or column.get("file")):
            yield (
                f"{where}.anonymous",
                "an identity, a link or a file identifies the subject: it cannot be anonymous",
            )


def _restriction_ways(restriction: Mapping[str, Any]) -> list[str]:
    given = {
        "column": restriction.get("column", ""),
        "via": restriction.get("via", ""),
        "cannot": restriction.get("cannot", ""),
    }
    return [way for way, value in given.items() if value.strip()]


def restriction(key: str, value: Any, place: Place) -> Faults:
    """Exactly one way to mark a table's rows restricted: a flag of its own (with the values it
    writes), through its parent's, or why it cannot."""
    if value is None:
        return
    if _kind(place) == SystemKind.HTTP:
        yield key, "an HTTP system is asked through its API: no columns to set"
    ways = _restriction_ways(value)
    if len(ways) != 1:
        yield (
            key,
            "give exactly one of column (with value and lifted: its own flag), "
            'via = "parent" (restricted through its parent\'s flag) or cannot (why not)',
        )
    if ways == ["column"]:
        for sub in ("value", "lifted"):
            if sub not in value:
                yield f"{key}.{sub}", "a flag names the value it writes"
    elif value.get("value", "") or value.get("lifted", ""):
        yield f"{key}.value", "only a flag (column) takes a value and lifted"


def restricted_via(key: str, value: Any, place: Place) -> Faults:
    """Through its parent's flag: only a table reached from a parent, and found only that way."""
    if value is not None and _restriction_ways(value) == ["via"]:
        if not place.table.get("reached_from"):
            yield f"{key}.via", "only a table reached_from a parent is restricted through it"
        if _identities(place.table):
            # A row found by an identity of its own need not belong to a restricted parent.
            yield f"{key}.via", "a table with identities of its own needs its own flag"


def action(key: str, value: Any, place: Place) -> Faults:
    """An objection's or a withdrawal's action: "set" names a column and its value, "delete"
    neither; it says which processing it stops (the letter quotes it, never "1 record
    changed"); only an objection concerns direct marketing (Art. 21(3))."""
    if not value:
        return
    if value["action"] == "set":
        if not _IDENTIFIER.fullmatch(value.get("column", "")):
            yield f"{key}.column", '"set" names the column it sets (an SQL identifier)'
        if "value" not in value:
            yield f"{key}.value", '"set" names the value it writes'
    elif value.get("column") or value.get("value"):
        yield f"{key}.column", '"delete" takes no column or value'
    if key == "withdrawal" and value.get("marketing"):
        yield f"{key}.marketing", "only an objection concerns direct marketing (Art. 21(3))"
    if not value.get("processing", "").strip():
        yield f"{key}.processing", "say which processing it stops (the letter quotes it)"


def kept_on_a_ground(what: str) -> Rule:
    """What erasure keeps of a table or a system names its legal ground (e.g. Art. 17(3)(b))."""

    def rule(key: str, value: Any, place: Place) -> Faults:
        if value == "keep" and not place.table.get("keep_ground", "").strip():
            yield "keep_ground", f"a {what} kept on erasure names its legal ground"

    return rule


def updated_columns(key: str, value: Any, place: Place) -> Faults:
    if value == "update" and not any(c.get("erasure") for c in place.table["columns"]):
        yield key, 'an "update" names the columns it empties or pseudonymises'


# --- A system's tables together.


def some_tables(key: str, value: Any, place: Place) -> Faults:
    if not value:
        yield key, "a system has at least one table"


def parents(key: str, value: Any, place: Place) -> Faults:
    """Each link names another table of the system, and a column of it."""
    by_name = {table["name"]: table for table in _tables(value)}
    for index, table in enumerate(_tables(value)):
        link = _links(table)
        if not link:
            continue
        where = f"{key}[{index}].reached_from"
        parent = by_name.get(link["table"])
        if parent is None or parent is table:
            yield f"{where}.table", f"{link['table']!r} is not another table of this system"
            continue
        if link["parent_column"] not in {c["name"] for c in parent["columns"]}:
            yield f"{where}.parent_column", f"{link['parent_column']!r} is not a column of it"


def reachable(key: str, value: Any, place: Place) -> Faults:
    """Every table leads to an identity column through its links: not a silent gap."""
    by_name = {table["name"]: table for table in _tables(value)}
    for index, table in enumerate(_tables(value)):
        seen = [table["name"]]
        current = table
        while not _identities(current):
            link = _links(current)
            if not link:
                yield (
                    f"{key}[{index}]",
                    f"table {table['name']!r} cannot be reached from an identity column "
                    "(give it identities, or reached_from a table that leads to one)",
                )
                break
            if link["table"] in seen:
                yield f"{key}[{index}].reached_from", f"the links loop: {' -> '.join(seen)}"
                break
            seen.append(link["table"])
            current = by_name[link["table"]]


def flagged_ancestor(key: str, value: Any, place: Place) -> Faults:
    """Restricted through a parent: some ancestor carries a flag of its own."""
    by_name = {table["name"]: table for table in _tables(value)}
    for index, table in enumerate(_tables(value)):
        seen = [table["name"]]
        current = table
        while (current.get("restriction") or {}).get("via"):
            parent = by_name[current["reached_from"]["table"]]
            if parent["name"] in seen:
                break  # the links loop: said by reachable
            seen.append(parent["name"])
            current = parent
        if current is not table and not (current.get("restriction") or {}).get("column"):
            yield (
                f"{key}[{index}].restriction.via",
                f"no table it is reached from has a restriction flag of its own "
                f"({' -> '.join(seen)})",
            )


def retention_of_findable(key: str, value: Any, place: Place) -> Faults:
    """Kept rows an erasure unlinks are searched by their recorded keys until their retention
    ends, never after: past it a reused key may name another person's row."""
    spec = place.system
    if spec is None or spec.kind != SystemKind.SQL:
        return
    for index, table in enumerate(_tables(value)):
        if after_erasure(spec, spec.table(table["name"])) == "findable" and not table.get(
            "keep_years"
        ):
            yield (
                f"{key}[{index}].keep_years",
                "erasure keeps these rows but cuts their link to the subject, so a later access "
                "request finds them by their keys: say how long they are kept (keep_years), "
                "after which their keys are no longer searched",
            )


def outliving_parents(key: str, value: Any, place: Place) -> Faults:
    """Children are changed before their parents; a row that outlives its deleted parent must
    not keep pointing at it (a foreign key would refuse the delete, or a later row with the
    same key would inherit it)."""
    by_name = {table["name"]: table for table in _tables(value)}
    for index, table in enumerate(_tables(value)):
        link = _links(table)
        erasure = table.get("erasure", "delete")
        if not link or erasure == "delete" or by_name[link["table"]].get("erasure") != "delete":
            continue
        if erasure == "keep":
            yield (
                f"{key}[{index}].erasure",
                f"kept rows would lose the {link['table']!r} row they belong to: keep or "
                "update that table instead",
            )
            continue
        column = next(c for c in table["columns"] if c["name"] == link["column"])
        if column.get("erasure") != "null":
            yield (
                f"{key}[{index}].reached_from.column",
                f'{link["table"]!r} rows are deleted: erase {link["column"]!r} with "null"',
            )


# --- Who is told of a change (Art. 19).


def a_system(key: str, value: Any, place: Place) -> Faults:
    for index, name in enumerate(value or []):
        if name not in place.systems:
            yield f"{key}[{index}]", f"{name!r} is not a system of this file"


def an_http_system(key: str, value: Any, place: Place) -> Faults:
    if value and place.systems.get(value) != SystemKind.HTTP:
        yield key, f"{value!r} is not an HTTP system"


def named(key: str, value: Any, place: Place) -> Faults:
    if not value.strip():
        yield key, "name the recipient"


def a_recipient(key: str, value: Any, place: Place) -> Faults:
    known = place.recipients
    if known is not None and value not in known:
        valid = "its recipients: " + (", ".join(repr(name) for name in known) or "none")
        yield key, f"{value!r} is not a recipient of the policy ({valid})"


def ways_to_tell(key: str, value: Any, place: Place) -> Faults:
    """Each entry says how its recipient is told: by mail, through an HTTP system (with a mail
    address for what its API does not take), or not, under an exception of Art. 19 with the
    controller's reason; or that it receives data only on occasion (the officer then records,
    case by case, whether the subject's went to it, and gives the address if so)."""
    for index, entry in enumerate(_tables(value)):
        where = f"{key}[{index}]"
        ways = {way for way in ("email", "system", "unreachable") if entry.get(way, "").strip()}
        if "unreachable" in ways and len(ways) > 1:
            yield where, "a recipient that cannot be told (unreachable) has no email or system"
        if not ways and not entry.get("occasional", "").strip():
            yield (
                where,
                "give one way to tell it: email, system (an HTTP system, with an email for what "
                "its API does not take) or unreachable (with its exception); or, for a recipient "
                "that receives data only on occasion, occasional",
            )
        if "unreachable" in ways and not entry.get("exception"):
            yield f"{where}.exception", f"name the exception of Art. 19: {' or '.join(EXCEPTIONS)}"
        if entry.get("exception") and "unreachable" not in ways:
            yield f"{where}.unreachable", "an exception says why, in unreachable"


def once_each(key: str, value: Any, place: Place) -> Faults:
    seen: set[str] = set()
    for index, entry in enumerate(_tables(value)):
        if entry["recipient"] in seen:
            yield f"{key}[{index}].recipient", f"{entry['recipient']!r} is named twice"
        seen.add(entry["recipient"])
