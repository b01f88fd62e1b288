"""The systems file format, declared once: every key, its type, whether it is required, its
allowed values, the rules it is held to and where the registry keeps it.

The validator (``validate.validate_systems``), the loader (``load``), the exporter (``export``)
and the connectors' typed view (``spec_of``) all read this declaration: a key added here is
validated, loaded, exported and typed without another line elsewhere (its attribute on the
view in ``views.py`` aside, which a test holds to the same keys). ``README.md`` beside it
documents the keys for people.

Storage: a ``[[systems]]`` table is a ``System`` row (matched by name, so a reloaded system
keeps its row), the whole table kept in its ``spec``, the keys marked ``column`` in their
columns too; the ``[[notify]]`` entries are kept on the controller (``Controller.notify``),
their ``identities`` as ``RecipientIdentity`` rows (the register the admin edits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..models import RecipientIdentity, System, SystemKind, Tristate
from ..policy import PolicyError
from ..schema import Field
from . import rules
from .rules import EXCEPTIONS, Rule
from .views import ActionSpec, ColumnSpec, LinkSpec, RestrictionSpec, SystemSpec, TableSpec

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
# A manual system's answer to erasure: its owner deletes, or keeps (and restricts) on a ground.
MANUAL_ERASURE = ("delete", "keep")


@dataclass(frozen=True)
class Key(Field):
    """A key of the systems file: the policy format's ``Field``, and what this format adds."""

    # Checks beyond its type (``rules``), run once the whole file's types are right.
    rules: tuple[Rule, ...] = ()
    # A table's typed view (``views``), built by ``spec_of``.
    view: type | None = None
    # An array whose tables take one of several schemas, chosen by the value of their key
    # ``choose`` (the systems, by kind).
    variants: Mapping[str, Mapping[str, Key]] | None = None
    choose: str = ""
    # Absent or empty: the value of this other key of the table (a label: the name).
    fallback: str = ""
    # A key of a table kept as a row of its own (``model``): kept in the row's column of the
    # same name too, besides the whole table in the row's ``attr``.
    column: bool = False
    # Rows of their own: matched by this key on loading, so a row named again keeps its id.
    match: str = ""
    # Rows of their own inside an entry kept on the controller, replaced on loading: the
    # entry's key each row keeps too.
    owner: str = ""


def _choice(values: Iterable[str], **kwargs: Any) -> Key:
    return Key("choice", choices=tuple(values), **kwargs)


COLUMN = {
    "name": Key("str", required=True, rules=(rules.identifier,)),
    # How the subject's package and the officer's review name it.
    "label": Key("str", fallback="name"),
    "category": Key("str", required=True, rules=(rules.category,)),  # one of the policy's
    "provided": Key("bool"),  # the subject provided it: part of the Art. 20 package
    "file": Key("bool"),  # its value is the path of a file under the system's files folder
    "erasure": _choice(COLUMN_ERASURE),
    # The subject may have it corrected (Art. 16): an officer approves each correction. On an
    # HTTP system's table: its API takes a rectification of it (the corrected value is sent).
    "rectifiable": Key("bool"),
    # Its value cannot identify a person, on its own or with what erasure keeps of the row (a
    # date, an amount, a product). Absent, a column is taken to identify: a kept row whose
    # every column is emptied by erasure or declared so no longer identifies the subject.
    "anonymous": Key("bool"),
}
IDENTITIES = {kind: Key("str") for kind in IDENTITY_KINDS}
LINK = {
    "table": Key("str", required=True),  # the parent table
    "column": Key("str", required=True),  # the column of this table ...
    "parent_column": Key("str", required=True),  # ... that holds this column's value
}
# How the system marks a table's rows restricted (Art. 18), exactly one way: its own flag, a
# ``column`` set to ``value`` and set back to ``lifted`` when the restriction is lifted; through
# its parent's flag (``via = "parent"``: the application treats the rows of a restricted parent
# as restricted, e.g. a restricted account's orders); or ``cannot``: why its rows cannot be
# marked, in the controller's words (said in the plan and quoted in the letter).
RESTRICTION_VIA = ("", "parent")
RESTRICTION = {
    "column": Key("str", rules=(rules.identifier,)),
    "value": Key("str"),
    "lifted": Key("str"),
    "via": _choice(RESTRICTION_VIA),
    "cannot": Key("text"),
}
ACTION = {
    "action": _choice(ACTIONS, required=True),
    # What processing the action stops, in the controller's words (e.g. "Toezending van de
    # nieuwsbrief"): the letter says it stopped. Required.
    "processing": Key("text"),
    "column": Key("str"),  # with "set"
    "value": Key("str"),  # with "set"
    # Processing for direct marketing: an objection to it is absolute (Art. 21(3)).
    "marketing": Key("bool"),
}
TABLE = {
    "name": Key("str", required=True, rules=(rules.identifier,)),
    "label": Key("str", fallback="name"),
    "key": Key("str", required=True, rules=(rules.a_column,)),  # tells its rows apart
    "identities": Key("table", schema=IDENTITIES, rules=(rules.identity_columns,)),
    "reached_from": Key("table", schema=LINK, view=LinkSpec, rules=(rules.link,)),
    "erasure": _choice(
        TABLE_ERASURE,
        default="delete",
        rules=(rules.kept_on_a_ground("table"), rules.updated_columns),
    ),
    # Required when erasure = "keep"; with "update", why the columns it leaves are kept.
    "keep_ground": Key("text"),
    # How long what is kept is kept, in years from the erasure (absent: the file does not say).
    "keep_years": Key("int", maximum=100),
    "restriction": Key(
        "table",
        schema=RESTRICTION,
        view=RestrictionSpec,
        rules=(rules.restriction, rules.restricted_via),
    ),
    "objection": Key("table", schema=ACTION, view=ActionSpec, rules=(rules.action,)),
    "withdrawal": Key("table", schema=ACTION, view=ActionSpec, rules=(rules.action,)),
    "columns": Key(
        "tables",
        required=True,
        schema=COLUMN,
        view=ColumnSpec,
        rules=(rules.columns, rules.unique_names, rules.column_fits_table),
    ),
}
TABLES = Key(
    "tables",
    required=True,
    schema=TABLE,
    view=TableSpec,
    rules=(
        rules.some_tables,
        rules.unique_names,
        rules.parents,
        rules.reachable,
        rules.flagged_ancestor,
        rules.retention_of_findable,
        rules.outliving_parents,
    ),
)
_ENV = Key("str", rules=(rules.environment_variable,))
_DEMO = Key("str", rules=(rules.demo_value,))
_COMMON = {
    "name": Key("str", required=True, column=True, rules=(rules.system_name,)),
    "title": Key("str", required=True, column=True),
    "kind": _choice(SystemKind.values, required=True, column=True),
    "description": Key("text"),
    # Who answers for the system: asked by mail for a manual task, told when search fails.
    "owner": Key("email"),
}
KIND_SCHEMAS: dict[str, dict[str, Key]] = {
    SystemKind.SQL: {
        **_COMMON,
        "url_env": Key("str", required=True, rules=(rules.environment_variable,)),
        "demo_url": _DEMO,
        "files_env": _ENV,
        "demo_files": _DEMO,
        "timeout_seconds": Key("int", default=30, maximum=3600),
        "tables": TABLES,
    },
    SystemKind.HTTP: {
        **_COMMON,
        "url_env": Key("str", required=True, rules=(rules.environment_variable,)),
        "demo_url": _DEMO,
        "secret_env": Key("str", required=True, rules=(rules.environment_variable,)),
        "timeout_seconds": Key("int", default=30, maximum=3600),
        "tables": TABLES,
    },
    SystemKind.MANUAL: {
        **_COMMON,
        "instructions": Key("text"),  # what the owner should search, and how to export it
        "categories": Key("strs", required=True, rules=(rules.categories,)),
        "erasure": _choice(
            MANUAL_ERASURE, default="delete", rules=(rules.kept_on_a_ground("system"),)
        ),
        "keep_ground": Key("text"),
        "keep_years": Key("int", maximum=100),
    },
}
# Who a recipient is (CJEU C-154/21): each company or authority behind a recipient the statement
# names by its category, where it is established, outside the EEA the safeguard (Art. 15(2)),
# and the systems whose data it receives (none named: those of its entry).
IDENTITY = {
    "name": Key("str", required=True, rules=(rules.named,)),
    "established": Key("str"),
    "outside_eea": _choice(Tristate.values, default=Tristate.UNKNOWN.value),
    "safeguard": Key("text"),
    "receives": Key("strs", rules=(rules.a_system,)),
}
# Who is told of a change to the subject's data (Art. 19, and the processors of an objection
# or a withdrawal of consent): each of the policy's recipients the data was disclosed to, by
# mail, through an HTTP system's own request (with a mail address for what its API does not
# take), or not, under one of the two exceptions, in the controller's words. What it receives
# narrows when it is concerned: the systems whose data it receives, and whether it receives
# data only on occasion (the officer then records, case by case, whether this subject's went).
NOTIFY = {
    "recipient": Key("str", required=True, rules=(rules.a_recipient,)),  # the policy's name
    "email": Key("email"),
    # An HTTP system of this file: its request is the notice (``email`` for the rights its
    # API does not take).
    "system": Key("str", rules=(rules.an_http_system,)),
    "unreachable": Key("text"),  # why it cannot be told, in the controller's words
    "exception": _choice(("", *EXCEPTIONS)),  # with unreachable: which exception of Art. 19
    # The systems whose data it receives (none named: all of them).
    "receives": Key("strs", rules=(rules.a_system,)),
    # When it receives data, if only on occasion (a legal order, the subject's consent).
    "occasional": Key("text"),
    # Who it is: the access letter names them (the register of recipients, kept as rows).
    "identities": Key("tables", schema=IDENTITY, model=RecipientIdentity, owner="recipient"),
}
FILE = {
    # Read, not kept: the format's version, and the controller whose rows the file replaces.
    "schema": Key("int", required=True, stored=False, rules=(rules.version,)),
    "controller": Key("str", required=True, stored=False),
    "notify": Key("tables", schema=NOTIFY, rules=(rules.ways_to_tell, rules.once_each)),
    "systems": Key(
        "tables",
        required=True,
        variants=KIND_SCHEMAS,
        choose="kind",
        model=System,
        attr="spec",
        match="name",
        rules=(rules.unique_names,),
    ),
}


def schema_of(field: Key, item: Mapping[str, Any], path: str, key: str) -> Mapping[str, Key]:
    """The schema of one table of an array: its key's own, or the variant its table chooses."""
    variants = field.variants
    if variants is None:
        return field.schema or {}
    chosen = item.get(field.choose)
    if not isinstance(chosen, str) or chosen not in variants:
        raise PolicyError(path, f"{key}.{field.choose}", f"expected one of {', '.join(variants)}")
    return variants[chosen]


def canonical(data: Mapping[str, Any], schema: Mapping[str, Key]) -> dict[str, Any]:
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
            value = [canonical(item, schema_of(field, item, "", key)) for item in value]
        out[key] = value
    return out


def spec_of(data: Mapping[str, Any]) -> SystemSpec:
    """The typed view of one system's (canonical) table."""
    return _view(SystemSpec, KIND_SCHEMAS[data["kind"]], data)


def _view(view: type, schema: Mapping[str, Key], data: Mapping[str, Any]) -> Any:
    values = {}
    for key, field in schema.items():
        value = data[key] if key in data else field.absent()
        if field.fallback and not value:
            value = data[field.fallback]
        if value is None or (field.kind == "table" and not value):
            continue  # absent: the view's default
        values[key] = _typed(field, value)
    return view(**values)


def _typed(field: Key, value: Any) -> Any:
    view = field.view
    if field.kind == "tables":
        return tuple(_view(view, field.schema or {}, item) for item in value)
    if field.kind == "table":
        # A table without a view of its own (the identities) is a mapping of what it gives.
        if view is None:
            return {key: item for key, item in value.items() if item}
        return _view(view, field.schema or {}, value)
    if field.kind in ("strs", "emails", "choices"):
        return tuple(value)
    return value
