"""Working days in the controller's country: public holidays, weekends, local time.

Pure Python (stdlib and ``zoneinfo``): which days a period may not end on, by statute.

* NL: Algemene termijnenwet art. 3 (Liberation Day every year for time limits).
* BE: the ten legal holidays (not Good Friday, not 26 December).
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "COUNTRY_TIME_ZONES",
    "is_working_day",
    "public_holidays",
    "working_days_before",
]

# "End of the day" is 23:59:59 in the controller's local time zone (docs/legal.md §1).
COUNTRY_TIME_ZONES: dict[str, str] = {"NL": "Europe/Amsterdam", "BE": "Europe/Brussels"}

_SATURDAY = 5


def _country(country: str) -> str:
    """Normalise and check a country code, so an unsupported one never yields a wrong calendar."""
    code = country.upper() if isinstance(country, str) else country
    if code not in COUNTRY_TIME_ZONES:
        supported = ", ".join(sorted(COUNTRY_TIME_ZONES))
        raise ValueError(f"unsupported country {country!r}; supported: {supported}")
    return code


def _zone(country: str, tz: str | None) -> ZoneInfo:
    """The controller's zone: explicit ``tz`` if given, else the country's legal-time zone."""
    name = COUNTRY_TIME_ZONES[country] if tz is None else tz
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _require_aware(received: datetime) -> None:
    """Reject naive datetimes: without an offset the local receipt date cannot be known."""
    if received.tzinfo is None or received.utcoffset() is None:
        raise ValueError("received must be a timezone-aware datetime")


def _as_dates(days: Iterable[date]) -> frozenset[date]:
    """Materialise extra holidays once (a generator may be passed) and drop any time part."""
    return frozenset(d.date() if isinstance(d, datetime) else d for d in days)


def _easter_sunday(year: int) -> date:
    """Western Easter Sunday by the anonymous Gregorian (Meeus/Jones/Butcher) algorithm.

    Good Friday, Easter Monday, Ascension and Whit Monday all hang off this date.
    """
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nl_kings_day(year: int) -> date:
    """King's Day (from 2014) or Queen's Day (before), moved to Saturday when it is a Sunday.

    Algemene termijnenwet art. 3 names "de dag waarop de verjaardag van de Koning wordt gevierd",
    i.e. the day it is celebrated, which is the day before when the date falls on a Sunday.
    """
    day = date(year, 4, 27) if year >= 2014 else date(year, 4, 30)
    if day.weekday() == calendar.SUNDAY:
        day -= timedelta(days=1)
    return day


@functools.lru_cache(maxsize=512)
def _base_holidays(country: str, year: int) -> frozenset[date]:
    """The statutory holidays of ``country`` in ``year`` (cached: called for every day moved)."""
    easter = _easter_sunday(year)
    # Movable feasts shared by NL and BE.
    easter_monday = easter + timedelta(days=1)
    ascension = easter + timedelta(days=39)
    whit_monday = easter + timedelta(days=50)
    if country == "NL":
        # Algemene termijnenwet art. 3(1): Nieuwjaarsdag, Goede Vrijdag, tweede Paasdag,
        # Koningsdag, Bevrijdingsdag (5 mei: every year for time limits, unlike the lustrum-only
        # national day off), Hemelvaartsdag, tweede Pinksterdag, eerste en tweede Kerstdag.
        return frozenset(
            {
                date(year, 1, 1),
                easter - timedelta(days=2),  # Good Friday
                easter_monday,
                _nl_kings_day(year),
                date(year, 5, 5),
                ascension,
                whit_monday,
                date(year, 12, 25),
                date(year, 12, 26),
            }
        )
    if country == "BE":
        # The ten Belgian legal holidays; NOT Good Friday and NOT 26 December.
        return frozenset(
            {
                date(year, 1, 1),
                easter_monday,
                date(year, 5, 1),
                ascension,
                whit_monday,
                date(year, 7, 21),
                date(year, 8, 15),
                date(year, 11, 1),
                date(year, 11, 11),
                date(year, 12, 25),
            }
        )
    raise AssertionError(f"no calendar for {country!r}")  # pragma: no cover - _country guards


def public_holidays(country: str, year: int, *, extra: Iterable[date] = ()) -> frozenset[date]:
    """Public holidays that move a deadline in ``country`` during ``year``.

    ``extra`` holds further days a controller treats as holidays for time limits (e.g. days a
    Dutch royal decree assimilates to public holidays); it is empty by default because the law
    does not make them automatic. Only extra days falling in ``year`` are included.
    """
    base = _base_holidays(_country(country), year)
    extra_in_year = {d for d in _as_dates(extra) if d.year == year}
    return base | extra_in_year if extra_in_year else base


def is_working_day(day: date, country: str, *, extra: Iterable[date] = ()) -> bool:
    """Whether a period may end on ``day`` (Regulation 1182/71 Art. 3(4)).

    Saturdays, Sundays and public holidays are not working days.
    """
    if isinstance(day, datetime):
        day = day.date()
    if day.weekday() >= _SATURDAY:
        return False
    return day not in public_holidays(country, day.year, extra=extra)


def working_days_before(
    moment: datetime,
    days: int,
    *,
    country: str,
    tz: str | None = None,
    extra_holidays: Iterable[date] = (),
) -> datetime:
    """The start (00:00 local) of the day ``days`` working days before ``moment``'s local date.

    Used for reminders ("three working days before the deadline"), not for legal periods.
    """
    _require_aware(moment)
    code = _country(country)
    zone = _zone(code, tz)
    extra = _as_dates(extra_holidays)
    day = moment.astimezone(zone).date()
    remaining = days
    while remaining > 0:
        day -= timedelta(days=1)
        if is_working_day(day, code, extra=extra):
            remaining -= 1
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def working_days_between(
    start: datetime,
    end: datetime,
    *,
    country: str,
    tz: str | None = None,
    extra_holidays: Iterable[date] = (),
) -> int:
    """How many working days lie after ``start``'s local date up to and including ``end``'s:
    0 when both fall on the same day, negative when ``end`` comes first. Used to say by how much
    a deadline was met or missed ("2 working days early"), not to compute periods."""
    _require_aware(start)
    _require_aware(end)
    code = _country(country)
    zone = _zone(code, tz)
    extra = _as_dates(extra_holidays)
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        if is_working_day(day, code, extra=extra):
            count += 1
    return sign * count
