"""Typed views of a stored system, for the connectors: one frozen dataclass a table of the format.

Their attributes are the keys of the format's tables (``format.spec_of`` builds them from the
declaration, and a test holds the two to the same keys); a key a system's kind does not have
keeps its default here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    category: str
    label: str = ""
    provided: bool = False
    file: bool = False
    erasure: str = ""
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
    column: str = ""
    value: str = ""
    marketing: bool = False
    processing: str = ""  # what it stops, in the controller's words


@dataclass(frozen=True)
class LinkSpec:
    table: str
    column: str
    parent_column: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str
    columns: tuple[ColumnSpec, ...]
    label: str = ""
    identities: dict[str, str] = field(default_factory=dict)
    reached_from: LinkSpec | None = None
    erasure: str = "delete"
    keep_ground: str = ""
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
    description: str = ""
    owner: str = ""
    url_env: str = ""
    demo_url: str = ""
    files_env: str = ""
    demo_files: str = ""
    secret_env: str = ""
    timeout_seconds: int = 30
    instructions: str = ""
    categories: tuple[str, ...] = ()
    tables: tuple[TableSpec, ...] = ()
    # A manual system's erasure: "delete" or "keep" (its tables carry their own; "" for them).
    erasure: str = ""
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
