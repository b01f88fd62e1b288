"""Legal time limits for data-subject requests (GDPR Art. 12(3)-(4)).

This module is deliberately pure Python (stdlib + ``zoneinfo``, no Django, no ``holidays``
package): the deadline is the one thing in the product that must be right to the day, so it is
kept small, dependency-free and exhaustively testable. Every rule below is taken from
``docs/legal.md`` §1, which in turn follows:

* GDPR Art. 12(3): answer within one month of receipt, extendable by two further months; the
  subject must be told of the extension within the first month. Art. 12(4): a refusal is also due
  within the first month.
* EDPB Guidelines 01/2022 §159 (clock starts on receipt; suspension while waiting for identity
  information) and §160-161 (computation per Regulation (EEC, Euratom) No 1182/71).
* Regulation 1182/71 Art. 3: the day of receipt is not counted; a period in months ends on the
  same date in the last month, or that month's last day; a period in weeks on the same weekday;
  a period (other than hours) ending on a Saturday, Sunday or public holiday ends at the end of
  the next working day; a period in hours is exact.
* Public holidays: NL Algemene termijnenwet art. 3; BE the ten legal holidays.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from .workdays import _as_dates, _country, _require_aware, _zone, is_working_day

__all__ = [
    "EXTENDED",
    "STATUTORY",
    "Deadlines",
    "Period",
    "Unit",
    "compute_deadlines",
    "period_end",
]


class Unit(StrEnum):
    """Unit of a time limit; Regulation 1182/71 treats hours differently from the others."""

    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


@dataclass(frozen=True)
class Period:
    """A time limit such as "one month" (the law) or "48 hours" (a controller's own promise).

    Validated on creation so that a bad declaration from a controller's configuration fails
    loudly when it is loaded, not silently when a deadline is computed.
    """

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        # A StrEnum value given as plain text ("weeks") is accepted, anything else is an error.
        try:
            unit = Unit(self.unit)
        except ValueError as exc:
            choices = ", ".join(u.value for u in Unit)
            raise ValueError(f"unknown period unit {self.unit!r}; use one of {choices}") from exc
        object.__setattr__(self, "unit", unit)
        # bool is an int subclass; "True months" is a configuration error, not one month.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise ValueError(f"period amount must be an integer, got {self.amount!r}")
        # A period of zero (or less) would make the deadline the moment of receipt or earlier.
        if self.amount < 1:
            raise ValueError(f"period amount must be at least 1, got {self.amount}")


# GDPR Art. 12(3): "within one month of receipt of the request".
STATUTORY = Period(1, Unit.MONTHS)
# GDPR Art. 12(3): "may be extended by two further months". Choice (docs/legal.md §1): the
# extended limit is three months from receipt computed the same way, not two months chained onto
# the one-month date.
EXTENDED = Period(3, Unit.MONTHS)


_END_OF_DAY = time(23, 59, 59)


def _require_paused(paused_days: int) -> None:
    """Suspension only ever lengthens a period (docs/legal.md Choice: pause and resume)."""
    if isinstance(paused_days, bool) or not isinstance(paused_days, int):
        raise ValueError(f"paused_days must be an integer, got {paused_days!r}")
    if paused_days < 0:
        raise ValueError(f"paused_days must be >= 0, got {paused_days}")


def _add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later, clamped to that month's last day.

    Regulation 1182/71 Art. 3(2)(c): a period in months ends on the day of the last month with the
    same date as the start day; if that month has no such date, on its last day.
    """
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def period_end(
    received: datetime,
    period: Period,
    *,
    country: str,
    tz: str | None = None,
    paused_days: int = 0,
    extra_holidays: Iterable[date] = (),
) -> datetime:
    """The moment ``period`` counted from ``received`` ends, as an aware local datetime.

    Order of operations (docs/legal.md §1): local receipt date -> add months/weeks/days
    (clamping to month end) -> add suspended days -> move forward past non-working days ->
    23:59:59 local. Hours are exact elapsed time and never moved. ``paused_days`` are the days
    the clock was suspended while waiting for information (EDPB §159; Choice: pause, not restart).
    """
    _require_aware(received)
    _require_paused(paused_days)
    code = _country(country)
    zone = _zone(code, tz)
    extra = _as_dates(extra_holidays)
    try:
        return _end(received, period, code, zone, paused_days, extra)
    except (OverflowError, ValueError):
        # Every argument was checked above: what fails now is a date beyond what a calendar
        # holds (a typo of 10**20 days), which deserves this sentence rather than C's.
        raise ValueError(
            f"{period.amount} {period.unit.value} and {paused_days} suspended days from "
            f"{received.date().isoformat()} end after the year 9999"
        ) from None


def _end(
    received: datetime,
    period: Period,
    code: str,
    zone: ZoneInfo,
    paused_days: int,
    extra: frozenset[date],
) -> datetime:
    if period.unit is Unit.HOURS:
        # Regulation 1182/71 Art. 3(1)-(2)(a), docs/legal.md: a period in hours is exact elapsed
        # time and is never moved off weekends or holidays. Arithmetic is done in UTC so that a DST
        # change inside the period does not add or remove an hour (aware-datetime arithmetic in a
        # ZoneInfo zone is wall-clock arithmetic); a suspended day counts as 24 elapsed hours.
        end = received.astimezone(UTC) + timedelta(hours=period.amount, days=paused_days)
        return end.astimezone(zone)

    # The receipt date is the local date in the controller's zone, whatever the UTC date
    # (docs/legal.md: a request at 00:30 Amsterdam time is received that day).
    start = received.astimezone(zone).date()

    # The day of receipt is not counted (Art. 3(1)); adding the period to the receipt date
    # already achieves that: one day after 5 March is 6 March, one month after is 5 April.
    if period.unit is Unit.MONTHS:
        last = _add_months(start, period.amount)  # Art. 3(2)(c), clamped to month end
    elif period.unit is Unit.WEEKS:
        last = start + timedelta(weeks=period.amount)  # Art. 3(2)(c): same weekday
    else:
        last = start + timedelta(days=period.amount)  # Art. 3(2)(b): whole days

    # Suspended days are added before moving off non-working days (docs/legal.md §1, order).
    last += timedelta(days=paused_days)

    # Art. 3(3): weekends and holidays inside the period count; Art. 3(4): a period ending on a
    # Saturday, Sunday or public holiday ends at the end of the next working day.
    while not is_working_day(last, code, extra=extra):
        last += timedelta(days=1)

    # "End of the day" is 23:59:59 local; combining with the ZoneInfo picks that date's offset.
    return datetime.combine(last, _END_OF_DAY, tzinfo=zone)


@dataclass(frozen=True)
class Deadlines:
    """All the time limits of one request, so the queue, reminders and records agree.

    ``effective`` is the one the queue sorts on; ``notice_by`` is when an extension or refusal
    notice must be sent; ``declared_exceeds_statutory`` flags a controller promise that is longer
    than the law allows (the statutory limit then applies).
    """

    declared: datetime | None
    statutory: datetime
    extended: datetime
    notice_by: datetime
    effective: datetime
    declared_exceeds_statutory: bool


def compute_deadlines(
    received: datetime,
    *,
    country: str,
    tz: str | None = None,
    declared: Period | None = None,
    paused_days: int = 0,
    extended: bool = False,
    extra_holidays: Iterable[date] = (),
) -> Deadlines:
    """Compute the statutory, extended, notice and declared deadlines of one request.

    ``extended`` says whether the controller has extended the period (Art. 12(3)); ``declared``
    is the controller's own, possibly faster, promise (e.g. Smartlockr's 48 hours).
    """
    extra = _as_dates(extra_holidays)

    def end(period: Period) -> datetime:
        return period_end(
            received,
            period,
            country=country,
            tz=tz,
            paused_days=paused_days,
            extra_holidays=extra,
        )

    # Art. 12(3): one month from receipt, lengthened by any suspension.
    statutory = end(STATUTORY)
    # docs/legal.md Choice: three months from receipt computed the same way, not chained.
    extended_end = end(EXTENDED)
    # Art. 12(3)-(4): the extension notice and any refusal are due "within one month of receipt";
    # that month is the same one a suspension lengthens, so the notice date equals `statutory`.
    notice_by = statutory
    declared_end = end(declared) if declared is not None else None
    # docs/legal.md: a declared promise longer than the law allows is flagged ...
    exceeds = declared_end is not None and declared_end > statutory
    # ... and the earlier deadline counts, so an over-long promise leaves the legal one in force.
    # Once the controller has extended under Art. 12(3) (notified, with reasons), the extended
    # deadline is the one it answers by: its own faster promise no longer holds, and keeping it
    # would tell the subject a date that the extension notice just moved.
    if extended:
        effective = extended_end
    else:
        effective = statutory if declared_end is None else min(declared_end, statutory)
    return Deadlines(
        declared=declared_end,
        statutory=statutory,
        extended=extended_end,
        notice_by=notice_by,
        effective=effective,
        declared_exceeds_statutory=exceeds,
    )
