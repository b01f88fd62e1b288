"""Many cases at once, for the scale tests and the benchmarks: one INSERT ... SELECT in SQL.

Each row is a copy of a template case made the ordinary way; only what must differ is computed
(reference, address, receipt and deadlines shifted row by row). Every other column is copied, so
a column added to Case later needs no change here: the sweep benchmark once broke on a NOT NULL
column its hand-written INSERT did not name.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from cases.actors import Actor
from cases.intake import receive_case
from cases.models import Case
from cases.workflow import perform
from controllers.models import Controller

# Moved with the row number, so rows differ in receipt and deadline (the queue sorts on them).
SHIFTED = {
    "received_at",
    "declared_deadline",
    "statutory_deadline",
    "extended_deadline",
    "notice_by",
    "effective_deadline",
    "next_milestone_at",
}


def confirmed_template(name: str = "Template") -> Case:
    """One confirmed access request at smart-site, made through intake like any other: the
    case the benchmarks copy. Its confirmation mail goes nowhere a worker would send it from
    (the caller points Celery's broker at memory:// first)."""
    case = receive_case(
        controller=Controller.objects.get(slug="smart-site"),
        right="access",
        name=name,
        email=f"{name.lower()}@example.org",
        language="nl",
    )
    return perform(case, "confirm_email", actor=Actor.subject())


def clone_cases(
    template: Case, count: int, *, year: int = 2025, every: dt.timedelta | None = None
) -> None:
    """Insert ``count`` copies of ``template``, the n-th with reference ``DSAR-<year>-<100000+n>``
    (six digits, as real ones have, up to 899,999 copies), email ``bulk<n>@example.org`` and its
    times moved by ``n * every`` (one minute by default)."""
    minutes = int((every or dt.timedelta(minutes=1)).total_seconds() // 60)
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"

    def shifted(column: str) -> str:
        if postgres:
            return f"t.{column} + (g.n * {minutes}) * interval '1 minute'"
        return f"datetime(t.{column}, '+' || (g.n * {minutes}) || ' minutes')"

    columns, values, params = [], [], [count]
    for field in Case._meta.concrete_fields:
        if field.primary_key:
            continue
        column = quote(field.column)
        columns.append(column)
        if field.name == "reference":
            values.append("CAST(%s AS TEXT) || (g.n + 100000)")
            params.append(f"DSAR-{year}-")
        elif field.name == "email":
            values.append("'bulk' || g.n || '@example.org'")
        elif field.name in SHIFTED:
            values.append(shifted(column))
        else:
            values.append(f"t.{column}")
    table = quote(Case._meta.db_table)
    # Names come from the model and are quoted; every value is a parameter.
    sql = (
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s) "  # noqa: S608
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM g, {table} AS t WHERE t.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, template.pk])
