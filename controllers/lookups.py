"""Integer lookups that never send the database an integer it cannot hold.

An id comes from a URL, a query string or a form as digits of any length. Django guards the
integer field's own ``exact``, ``lt``, ``lte``, ``gt`` and ``gte`` (an out-of-range value matches
nothing, or everything), but not ``in`` or ``range``, and no lookup through a foreign key
(``controller=…``, ``controller__in=…``): those hand the value to the driver, and SQLite's raises
OverflowError beyond 2**63 - 1 (a 500 for ``/admin/dsar/case/?id__in=99999999999999999999``).
PostgreSQL compares such a value as a numeric and answers; for the same answer on every engine,
the bounds are the ones Django declares for the column's type on the connection in use.

These lookups replace Django's for every integer field and every single-column relation, so the
guard holds for every query, the admin's changelist filters and forms' ``ModelChoiceField``
included, instead of in each view: a value no row can hold is dropped from an ``in`` list (an
empty list matches nothing), an exact match on it matches nothing, and a range is clamped.
Registered by ``ControllersConfig.ready`` (the lowest app, so before any query).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet, FieldError, FullResultSet
from django.db.models import Field, ForeignObject, IntegerField
from django.db.models.expressions import ColPairs
from django.db.models.fields import related_lookups
from django.db.models.lookups import In, Range


def integer_bounds(field: Field, connection: Any) -> tuple[int | None, int | None]:
    """The least and greatest value the column of ``field`` holds on ``connection``, or
    ``(None, None)`` when it is not an integer column. A relation is bounded by its target."""
    while isinstance(field, ForeignObject):
        try:
            field = field.target_field
        except FieldError:  # several target columns: not one integer
            return None, None
    if not isinstance(field, IntegerField):
        return None, None
    return connection.ops.integer_field_range(field.get_internal_type())


def _outside(value: Any, low: int | None, high: int | None) -> bool:
    # bool is an int; True and False are always in range, and left alone.
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return (low is not None and value < low) or (high is not None and value > high)


def _single_column(lookup: Any) -> bool:
    return not isinstance(lookup.lhs, ColPairs) and hasattr(lookup.lhs, "output_field")


class _BoundedComparison:
    """exact, lt, lte, gt, gte through a relation, as Django's own for an integer field."""

    underflow_exception: type[Exception] = EmptyResultSet
    overflow_exception: type[Exception] = EmptyResultSet

    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        if _single_column(self):
            low, high = integer_bounds(self.lhs.output_field, connection)  # type: ignore[attr-defined]
            rhs = self.rhs  # type: ignore[attr-defined]
            if _outside(rhs, low, None):
                raise self.underflow_exception
            if _outside(rhs, None, high):
                raise self.overflow_exception
        return super().process_rhs(compiler, connection)  # type: ignore[misc]


class _BoundedIn:
    """in: the values no row can hold are dropped before the list is built or split."""

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        if _single_column(self) and self.rhs_is_direct_value():  # type: ignore[attr-defined]
            low, high = integer_bounds(self.lhs.output_field, connection)  # type: ignore[attr-defined]
            if low is not None or high is not None:
                kept = [v for v in self.rhs if not _outside(v, low, high)]  # type: ignore[attr-defined]
                if not kept:
                    raise EmptyResultSet
                self.rhs = kept  # type: ignore[attr-defined]
        return super().as_sql(compiler, connection)  # type: ignore[misc]


class IntegerIn(_BoundedIn, In):
    pass


class TwoEndedRange(Range):
    """range of any field: two ends, or a ValueError when the filter is built (the admin turns
    that into its "incorrect lookup" page); Django's own fails only when the query is compiled,
    inside the page's rendering (``?id__range=1`` was a 500)."""

    def get_prep_lookup(self) -> Any:
        if self.rhs_is_direct_value() and len(self.rhs) != 2:
            raise ValueError("A range needs exactly two values.")
        return super().get_prep_lookup()


class IntegerRange(TwoEndedRange):
    """range: clamped to what the column holds; a range wholly outside it matches nothing."""

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        if self.rhs_is_direct_value():
            low, high = integer_bounds(self.lhs.output_field, connection)
            start, end = self.rhs
            if _outside(start, None, high) or _outside(end, low, None):
                raise EmptyResultSet
            if _outside(start, low, None):
                start = low
            if _outside(end, None, high):
                end = high
            self.rhs = (start, end)
        return super().as_sql(compiler, connection)


class RelatedIn(_BoundedIn, related_lookups.RelatedIn):
    pass


class RelatedExact(_BoundedComparison, related_lookups.RelatedExact):
    pass


class RelatedLessThan(_BoundedComparison, related_lookups.RelatedLessThan):
    overflow_exception = FullResultSet


class RelatedLessThanOrEqual(_BoundedComparison, related_lookups.RelatedLessThanOrEqual):
    overflow_exception = FullResultSet


class RelatedGreaterThan(_BoundedComparison, related_lookups.RelatedGreaterThan):
    underflow_exception = FullResultSet


class RelatedGreaterThanOrEqual(_BoundedComparison, related_lookups.RelatedGreaterThanOrEqual):
    underflow_exception = FullResultSet


def register() -> None:
    """Put these lookups in place of Django's (same names, so every query uses them)."""
    Field.register_lookup(TwoEndedRange)
    IntegerField.register_lookup(IntegerIn)
    IntegerField.register_lookup(IntegerRange)
    for lookup in (
        RelatedIn,
        RelatedExact,
        RelatedLessThan,
        RelatedLessThanOrEqual,
        RelatedGreaterThan,
        RelatedGreaterThanOrEqual,
    ):
        ForeignObject.register_lookup(lookup)
