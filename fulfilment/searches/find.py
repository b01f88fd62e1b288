"""Where is this person's data? The searches of a request, run without one, for an operator.

Only SQL systems can be counted on the spot: an HTTP system (a processor) is asked within a
request, and a manual system is searched by its owner, so both are reported as such. Beside
each count stands what the systems file says erasure would do, and how many of the rows carry
each declared mark (restricted; opted out by an objection or a withdrawal of consent), so the
effect of every right that changes data shows here before and after.

Rows an earlier erasure of this person (their address, in any case) kept under a ground while
cutting their link to them are found as a later request finds them: by the keys that erasure
recorded (``collect.kept_records_of``), until their retention ends, and counted apart
(``kept``): after an erasure, the orders Smartphoto keeps show as kept, not as gone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from controllers.models import Controller, SystemKind
from controllers.systems import TableSpec, spec_of

from ..systems.connectors import sqlchange
from ..systems.connectors.base import ConnectorError, Identities
from ..systems.connectors.sql import SqlSource
from .collect import kept_for, kept_records_of


@dataclass
class TableFinding:
    table: str
    rows: int
    erasure: str
    # Of those rows, how many carry each declared mark (restricted, objection, withdrawal).
    marks: dict[str, int] = field(default_factory=dict)
    # Rows an earlier erasure kept and unlinked, found by the keys it recorded (not in
    # ``rows``, which the identity and the links find).
    kept: int = 0


@dataclass
class SystemFinding:
    system: str
    title: str
    kind: str
    searched: bool
    error: str = ""
    note: str = ""
    tables: list[TableFinding] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(table.rows + table.kept for table in self.tables)


def erasure_plan(table: TableSpec) -> str:
    """What the systems file declares erasure does to one table, in words."""
    if table.erasure == "delete":
        return "delete the rows"
    if table.erasure == "keep":
        return f"keep: {table.keep_ground}"
    changes = [f"{c.erasure} {c.name}" for c in table.columns if c.erasure]
    return "update: " + (", ".join(changes) if changes else "nothing declared")


def find_subject(controller: Controller, identities: Identities) -> list[SystemFinding]:
    """Count, per system and table, the rows that hold the subject. A system that cannot be
    reached is reported with its error; the others are still searched."""
    findings = []
    records = kept_records_of(controller, identities["email"]) if identities.get("email") else {}
    for system in controller.systems.order_by("position"):
        spec = spec_of(system.spec)
        finding = SystemFinding(system.name, system.title, system.kind, searched=False)
        findings.append(finding)
        if system.kind == SystemKind.HTTP:
            finding.note = "asked only within a request (the processor answers asynchronously)"
            continue
        if system.kind == SystemKind.MANUAL:
            finding.note = "searched by hand by its owner" + (
                f" ({spec.owner})" if spec.owner else ""
            )
            continue
        kept = kept_for(None, system.name, records)
        counts = {table.name: 0 for table in spec.tables}
        found_kept = dict(counts)
        try:
            for batch in SqlSource(spec, kept=kept).search(identities):
                (found_kept if batch.kept else counts)[batch.table.name] += len(batch.rows)
            marks = sqlchange.marks(spec, identities, kept)
        except ConnectorError as error:
            finding.error = str(error)
            continue
        finding.searched = True
        finding.tables = [
            TableFinding(
                table.name,
                counts[table.name],
                erasure_plan(table),
                marks.get(table.name, {}),
                kept=found_kept[table.name],
            )
            for table in spec.tables
        ]
    return findings


def as_json(findings: list[SystemFinding]) -> list[dict[str, Any]]:
    return [asdict(finding) | {"rows": finding.rows} for finding in findings]
