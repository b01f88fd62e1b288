"""Tests for the legal clock: the GDPR Art. 12(3) time limits as set out in docs/legal.md §1.

Pure Python: no Django, no database. Weekdays quoted in comments were checked with ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from dateutil.easter import easter as dateutil_easter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legalclock import (
    COUNTRY_TIME_ZONES,
    EXTENDED,
    STATUTORY,
    Period,
    Unit,
    compute_deadlines,
    is_working_day,
    period_end,
    public_holidays,
)
from legalclock.workdays import _easter_sunday

AMS = ZoneInfo("Europe/Amsterdam")
BRU = ZoneInfo("Europe/Brussels")
ONE_MONTH = Period(1, Unit.MONTHS)


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0, tz=AMS) -> datetime:
    """An aware receipt time, 10:00 local by default."""
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def end_date(received: datetime, period: Period = ONE_MONTH, **kw) -> date:
    """Local date on which the period ends (the time is checked separately)."""
    kw.setdefault("country", "NL")
    return period_end(received, period, **kw).date()


# --------------------------------------------------------------------------- worked examples


def test_issue_example_easter_2026() -> None:
    # Received Thursday 5 March 2026, 10:00 Amsterdam (CET, +01:00). One month -> 5 April 2026,
    # which is Easter Sunday; 6 April is Easter Monday (a holiday), so the period ends at the end
    # of Tuesday 7 April. Summer time started on 29 March, so the offset is +02:00.
    result = period_end(at(2026, 3, 5), STATUTORY, country="NL")
    assert result.isoformat() == "2026-04-07T23:59:59+02:00"
    assert result.tzinfo == AMS


def test_edpb_example_32_five_march_to_five_april() -> None:
    # EDPB 01/2022 §160, example 32: received 5 March, one month -> 5 April. In 2027 5 April is a
    # Monday and Easter Monday is 29 March, so there is nothing to move in NL or in BE.
    assert date(2027, 4, 5).weekday() == 0
    for country in ("NL", "BE"):
        assert end_date(at(2027, 3, 5), country=country) == date(2027, 4, 5)


def test_edpb_example_33_no_such_date_ends_on_last_day() -> None:
    # EDPB 01/2022 §161, example 33: received 31 August; September has no 31st, so the period
    # ends on 30 September. 30 September 2026 is a Wednesday: no move.
    assert date(2026, 9, 30).weekday() == 2
    assert end_date(at(2026, 8, 31)) == date(2026, 9, 30)
    # 30 September 2023 was a Saturday: the period then ends on Monday 2 October 2023.
    assert date(2023, 9, 30).weekday() == 5
    assert end_date(at(2023, 8, 31)) == date(2023, 10, 2)


def test_receipt_date_is_the_local_date_not_the_utc_date() -> None:
    # 1 June 2026 00:30 in Amsterdam (CEST, +02:00) is 31 May 22:30 UTC. The request is received
    # on 1 June, so one month ends on Wednesday 1 July 2026, not on 30 June (the UTC reading).
    received_utc = datetime(2026, 5, 31, 22, 30, tzinfo=UTC)
    assert received_utc.astimezone(AMS) == at(2026, 6, 1, 0, 30)
    result = period_end(received_utc, ONE_MONTH, country="NL")
    assert result.isoformat() == "2026-07-01T23:59:59+02:00"
    # The same instant given in Amsterdam time gives the same answer.
    assert period_end(at(2026, 6, 1, 0, 30), ONE_MONTH, country="NL") == result


def test_month_end_clamping_non_leap_and_leap() -> None:
    # 31 January + one month: February has no 31st, so its last day. 28 Feb 2025 is a Friday.
    assert end_date(at(2025, 1, 31)) == date(2025, 2, 28)
    # 2024 is a leap year: 29 Feb 2024 is a Thursday.
    assert end_date(at(2024, 1, 31)) == date(2024, 2, 29)
    # 30 January also clamps (to 29 Feb 2024): a month is not "30 days".
    assert end_date(at(2024, 1, 30)) == date(2024, 2, 29)
    # 29 Feb 2024 + 12 months: 2025 has no 29 Feb -> 28 Feb 2025 (Friday).
    assert end_date(at(2024, 2, 29), Period(12, Unit.MONTHS)) == date(2025, 2, 28)
    # 31 Jan 2026 -> 28 Feb 2026, a Saturday -> Monday 2 March.
    assert end_date(at(2026, 1, 31)) == date(2026, 3, 2)


def test_weeks_land_on_the_same_weekday() -> None:
    # Defero promises an answer "binnen vier weken". Received Wednesday 14 January 2026:
    # four weeks later is Wednesday 11 February 2026, a working day.
    result = end_date(at(2026, 1, 14), Period(4, Unit.WEEKS))
    assert result == date(2026, 2, 11)
    assert result.weekday() == date(2026, 1, 14).weekday() == 2


def test_days_count_whole_days_from_the_day_after_receipt() -> None:
    # Received Wednesday 14 January 2026; the 14th is not counted, day 10 is Saturday 24 January,
    # which moves to Monday 26 January.
    assert end_date(at(2026, 1, 14), Period(10, Unit.DAYS)) == date(2026, 1, 26)
    # One day after receipt on Monday 12 January 2026 is Tuesday 13 January.
    assert end_date(at(2026, 1, 12), Period(1, Unit.DAYS)) == date(2026, 1, 13)


def test_hours_are_exact_and_never_moved() -> None:
    # Smartlockr: "binnen 48 uur na ontvangst". Received Friday 9 January 2026 at 10:00: the
    # period ends Sunday 11 January at 10:00, even though that is a weekend day.
    received = at(2026, 1, 9)
    assert received.weekday() == 4
    result = period_end(received, Period(48, Unit.HOURS), country="NL")
    assert result.isoformat() == "2026-01-11T10:00:00+01:00"
    assert result.weekday() == 6
    # Hours are never moved off holidays either: 24 hours after Thursday 24 Dec 2026 10:00.
    assert period_end(at(2026, 12, 24), Period(24, Unit.HOURS), country="NL") == at(2026, 12, 25)


def test_hours_are_elapsed_time_across_a_dst_change() -> None:
    # Summer time starts Sunday 29 March 2026 at 02:00 CET. 48 elapsed hours after Friday
    # 27 March 10:00 +01:00 is Sunday 29 March 11:00 +02:00 (wall-clock 10:00 would be 47 hours).
    received = at(2026, 3, 27)
    result = period_end(received, Period(48, Unit.HOURS), country="NL")
    assert result.isoformat() == "2026-03-29T11:00:00+02:00"
    # Subtracting datetimes sharing one tzinfo is wall-clock arithmetic, so compare in UTC.
    assert result.astimezone(UTC) - received.astimezone(UTC) == timedelta(hours=48)


def test_hours_with_paused_days_add_whole_days_of_elapsed_time() -> None:
    # 48 hours plus 2 suspended days = 96 elapsed hours: Friday 10:00 -> Tuesday 10:00.
    result = period_end(at(2026, 1, 9), Period(48, Unit.HOURS), country="NL", paused_days=2)
    assert result.isoformat() == "2026-01-13T10:00:00+01:00"


def test_paused_days_are_added_before_moving_off_non_working_days() -> None:
    # One month after 5 March 2026 is Sunday 5 April. With 3 suspended days: 5 + 3 = Wednesday
    # 8 April, a working day. (Moving first would give 7 April + 3 = 10 April: wrong order.)
    assert end_date(at(2026, 3, 5), paused_days=3) == date(2026, 4, 8)
    # One month after 9 January 2026 is Monday 9 February; +5 suspended days is Saturday
    # 14 February, which then moves to Monday 16 February.
    assert end_date(at(2026, 1, 9), paused_days=5) == date(2026, 2, 16)


def test_liberation_day_every_year_in_nl() -> None:
    # 2026 is not a lustrum year, yet 5 May counts for time limits (Algemene termijnenwet art. 3).
    # Received 5 April 2026: one month -> Tuesday 5 May: NL moves to Wednesday 6 May, BE does not.
    assert date(2026, 5, 5).weekday() == 1
    assert end_date(at(2026, 4, 5), country="NL") == date(2026, 5, 6)
    assert end_date(at(2026, 4, 5, tz=BRU), country="BE") == date(2026, 5, 5)


def test_good_friday_moves_nl_not_be() -> None:
    # Received 3 March 2026: one month -> Friday 3 April 2026, Good Friday. NL: Good Friday,
    # Saturday, Easter Sunday and Easter Monday are not working days -> Tuesday 7 April.
    # BE: Good Friday is not a legal holiday -> 3 April.
    assert end_date(at(2026, 3, 3), country="NL") == date(2026, 4, 7)
    assert end_date(at(2026, 3, 3, tz=BRU), country="BE") == date(2026, 4, 3)


def test_boxing_day_moves_nl_not_be() -> None:
    # Received 26 November 2025: one month -> Friday 26 December 2025. NL (tweede Kerstdag) ->
    # Monday 29 December; BE has no 26 December holiday -> 26 December.
    assert date(2025, 12, 26).weekday() == 4
    assert end_date(at(2025, 11, 26), country="NL") == date(2025, 12, 29)
    assert end_date(at(2025, 11, 26, tz=BRU), country="BE") == date(2025, 12, 26)


@pytest.mark.parametrize(
    ("received", "be_end", "nl_end"),
    [
        # National Day: 21 July 2026 is a Tuesday -> BE Wednesday 22 July.
        (date(2026, 6, 21), date(2026, 7, 22), date(2026, 7, 21)),
        # Assumption: 15 August 2025 is a Friday -> BE Monday 18 August.
        (date(2025, 7, 15), date(2025, 8, 18), date(2025, 8, 15)),
        # Armistice: 11 November 2026 is a Wednesday -> BE Thursday 12 November.
        (date(2026, 10, 11), date(2026, 11, 12), date(2026, 11, 11)),
        # 1 May (Labour Day) 2026 is a Friday -> BE Monday 4 May; not a NL holiday.
        (date(2026, 4, 1), date(2026, 5, 4), date(2026, 5, 1)),
        # All Saints: 1 November 2027 is a Monday -> BE Tuesday 2 November.
        (date(2027, 10, 1), date(2027, 11, 2), date(2027, 11, 1)),
    ],
)
def test_belgian_holidays_move_be_not_nl(received: date, be_end: date, nl_end: date) -> None:
    assert nl_end.weekday() < 5
    start = (received.year, received.month, received.day)
    assert end_date(at(*start, tz=BRU), country="BE") == be_end
    assert end_date(at(*start), country="NL") == nl_end


def test_kings_day_2025_is_saturday_26_april() -> None:
    # 27 April 2025 is a Sunday, so King's Day is celebrated (and counts) on Saturday 26 April.
    assert date(2025, 4, 27).weekday() == 6
    nl_2025 = public_holidays("NL", 2025)
    assert date(2025, 4, 26) in nl_2025
    assert date(2025, 4, 27) not in nl_2025
    # 2014 was the first King's Day, also on a Sunday -> 26 April 2014.
    assert date(2014, 4, 26) in public_holidays("NL", 2014)
    # Before 2014: Queen's Day, 30 April (2013), or 29 April when 30 April is a Sunday (2006).
    assert date(2013, 4, 30) in public_holidays("NL", 2013)
    assert date(2006, 4, 30).weekday() == 6
    assert date(2006, 4, 29) in public_holidays("NL", 2006)
    assert date(2006, 4, 30) not in public_holidays("NL", 2006)


def test_kings_day_on_a_weekday_moves_an_nl_deadline() -> None:
    # 27 April 2026 is a Monday: received 27 March -> NL Tuesday 28 April, BE Monday 27 April.
    assert end_date(at(2026, 3, 27), country="NL") == date(2026, 4, 28)
    assert end_date(at(2026, 3, 27, tz=BRU), country="BE") == date(2026, 4, 27)


def test_easter_monday_and_kings_day_back_to_back_2038() -> None:
    # Easter 2038 is 25 April, the latest possible: Good Friday 23, Saturday 24, Easter Sunday 25,
    # Easter Monday 26 and King's Day Tuesday 27 April are five non-working days in a row.
    assert _easter_sunday(2038) == date(2038, 4, 25)
    assert end_date(at(2038, 3, 23), country="NL") == date(2038, 4, 28)


def test_dst_change_inside_the_period_uses_the_end_date_offset() -> None:
    # Spring: received in CET (+01:00), ends in CEST (+02:00) -- see the issue example above.
    assert period_end(at(2026, 3, 5), ONE_MONTH, country="NL").isoformat().endswith("+02:00")
    # Autumn: received Saturday 10 October 2026 in CEST (+02:00); summer time ends 25 October;
    # one month -> Tuesday 10 November 2026 23:59:59 CET (+01:00).
    received = at(2026, 10, 10)
    assert received.isoformat() == "2026-10-10T10:00:00+02:00"
    result = period_end(received, ONE_MONTH, country="BE", tz="Europe/Amsterdam")
    assert result.isoformat() == "2026-11-10T23:59:59+01:00"


def test_explicit_tz_overrides_the_country_zone() -> None:
    # A controller may set its own zone. 22:30 UTC on 31 May 2026 is 00:30 on 1 June in
    # Amsterdam but 23:30 on 31 May in London (BST): received 31 May -> Tuesday 30 June.
    received = datetime(2026, 5, 31, 22, 30, tzinfo=UTC)
    london = period_end(received, ONE_MONTH, country="NL", tz="Europe/London")
    assert london.isoformat() == "2026-06-30T23:59:59+01:00"
    assert london.tzinfo == ZoneInfo("Europe/London")


def test_extra_holidays_move_a_deadline_and_are_off_by_default() -> None:
    # Received 9 January 2026: one month -> Monday 9 February 2026. A controller-configured extra
    # day (e.g. a royal-decree day) on 9 February moves it to Tuesday 10 February.
    assert end_date(at(2026, 1, 9)) == date(2026, 2, 9)
    assert end_date(at(2026, 1, 9), extra_holidays=[date(2026, 2, 9)]) == date(2026, 2, 10)
    # A generator is fine too (it is read once), and so is a datetime (its date counts).
    extra = (d for d in [datetime(2026, 2, 9, 12, 0), datetime(2026, 2, 10, 12, 0)])
    assert end_date(at(2026, 1, 9), extra_holidays=extra) == date(2026, 2, 11)
    assert is_working_day(date(2026, 2, 9), "NL")
    assert not is_working_day(date(2026, 2, 9), "NL", extra=[date(2026, 2, 9)])
    assert date(2026, 2, 9) in public_holidays("NL", 2026, extra=[date(2026, 2, 9)])
    # An extra day in another year does not leak into this year's set.
    assert public_holidays("NL", 2026, extra=[date(2027, 2, 9)]) == public_holidays("NL", 2026)


def test_extended_is_three_months_from_receipt_not_chained() -> None:
    # Received 5 March 2026: three months -> Friday 5 June 2026, a working day.
    # Chaining two months onto the one-month date (7 April) would give Sunday 7 June -> 8 June.
    d = compute_deadlines(at(2026, 3, 5), country="NL")
    assert d.extended.isoformat() == "2026-06-05T23:59:59+02:00"
    assert d.extended == period_end(at(2026, 3, 5), EXTENDED, country="NL")
    # The extension notice is due within the first month: equal to the statutory deadline.
    assert d.notice_by == d.statutory
    assert d.statutory.isoformat() == "2026-04-07T23:59:59+02:00"
    # Not extended: the statutory deadline counts; extended: the three-month one.
    assert d.effective == d.statutory
    assert compute_deadlines(at(2026, 3, 5), country="NL", extended=True).effective == d.extended


def test_suspension_lengthens_statutory_extended_and_notice_alike() -> None:
    # 5 March 2026 + one month + 3 suspended days = Wednesday 8 April; the notice date follows.
    d = compute_deadlines(at(2026, 3, 5), country="NL", paused_days=3)
    assert d.statutory.date() == date(2026, 4, 8)
    assert d.notice_by == d.statutory
    # 5 June + 3 = Monday 8 June 2026.
    assert d.extended.date() == date(2026, 6, 8)


def test_declared_48_hours_is_earlier_and_counts() -> None:
    # Smartlockr: 48 hours. Received Friday 9 January 2026 10:00 -> declared Sunday 11 January
    # 10:00; statutory is Monday 9 February 23:59:59. The earlier one (declared) counts.
    d = compute_deadlines(at(2026, 1, 9), country="NL", declared=Period(48, Unit.HOURS))
    assert d.declared is not None
    assert d.declared.isoformat() == "2026-01-11T10:00:00+01:00"
    assert d.statutory.isoformat() == "2026-02-09T23:59:59+01:00"
    assert d.effective == d.declared
    assert d.declared_exceeds_statutory is False


def test_declared_longer_than_a_month_is_flagged_and_statutory_applies() -> None:
    # A declared six weeks from Friday 9 January 2026 -> Friday 20 February 2026, later than the
    # statutory Monday 9 February: flagged, and the statutory deadline still applies.
    d = compute_deadlines(at(2026, 1, 9), country="NL", declared=Period(6, Unit.WEEKS))
    assert d.declared is not None
    assert d.declared.date() == date(2026, 2, 20)
    assert d.declared_exceeds_statutory is True
    assert d.effective == d.statutory


def test_no_declared_promise() -> None:
    d = compute_deadlines(at(2026, 1, 9), country="BE")
    assert d.declared is None
    assert d.declared_exceeds_statutory is False
    assert d.effective == d.statutory
    assert d.statutory.tzinfo == BRU


def test_declared_four_weeks_is_not_flagged() -> None:
    # Defero: four weeks from Wednesday 14 January 2026 = 11 February, before the statutory
    # Monday 16 February (14 February is a Saturday).
    d = compute_deadlines(at(2026, 1, 14), country="NL", declared=Period(4, Unit.WEEKS))
    assert d.statutory.date() == date(2026, 2, 16)
    assert d.declared_exceeds_statutory is False
    assert d.effective == d.declared


# --------------------------------------------------------------------------- validation


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_end(datetime(2026, 3, 5, 10, 0), ONE_MONTH, country="NL")
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_deadlines(datetime(2026, 3, 5, 10, 0), country="NL")


def test_unknown_country_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match="BE, NL"):
        period_end(at(2026, 3, 5), ONE_MONTH, country="DE")
    with pytest.raises(ValueError, match="BE, NL"):
        public_holidays("FR", 2026)
    with pytest.raises(ValueError, match="BE, NL"):
        is_working_day(date(2026, 3, 5), "LU")


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        period_end(at(2026, 3, 5), ONE_MONTH, country="NL", tz="Europe/Atlantis")


@pytest.mark.parametrize("amount", [0, -1])
def test_period_amount_must_be_at_least_one(amount: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Period(amount, Unit.MONTHS)


def test_period_rejects_non_integers_and_unknown_units() -> None:
    with pytest.raises(ValueError):
        Period(1.5, Unit.DAYS)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Period(True, Unit.DAYS)
    with pytest.raises(ValueError, match="unknown period unit"):
        Period(1, "fortnights")  # type: ignore[arg-type]
    # The plain-text unit name is accepted and normalised to the enum.
    assert Period(2, "weeks") == Period(2, Unit.WEEKS)  # type: ignore[arg-type]


def test_negative_paused_days_are_rejected() -> None:
    with pytest.raises(ValueError, match="paused_days"):
        period_end(at(2026, 3, 5), ONE_MONTH, country="NL", paused_days=-1)
    with pytest.raises(ValueError, match="paused_days"):
        compute_deadlines(at(2026, 3, 5), country="NL", paused_days=-1)


def test_constants() -> None:
    assert Period(1, Unit.MONTHS) == STATUTORY
    assert Period(3, Unit.MONTHS) == EXTENDED
    assert COUNTRY_TIME_ZONES == {"NL": "Europe/Amsterdam", "BE": "Europe/Brussels"}
    assert Unit.HOURS == "hours"


# --------------------------------------------------------------------------- calendars


def test_easter_matches_dateutil() -> None:
    # Meeus/Jones/Butcher against dateutil's implementation (Western/Gregorian method).
    for year in range(1900, 2201):
        assert _easter_sunday(year) == dateutil_easter(year), year


def test_nl_calendar_2026_exactly() -> None:
    assert public_holidays("NL", 2026) == {
        date(2026, 1, 1),  # Nieuwjaarsdag
        date(2026, 4, 3),  # Goede Vrijdag
        date(2026, 4, 6),  # tweede Paasdag
        date(2026, 4, 27),  # Koningsdag
        date(2026, 5, 5),  # Bevrijdingsdag (not a lustrum year, still a holiday here)
        date(2026, 5, 14),  # Hemelvaartsdag
        date(2026, 5, 25),  # tweede Pinksterdag
        date(2026, 12, 25),  # eerste Kerstdag
        date(2026, 12, 26),  # tweede Kerstdag
    }


def test_be_calendar_2026_exactly() -> None:
    assert public_holidays("BE", 2026) == {
        date(2026, 1, 1),
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Whit Monday
        date(2026, 7, 21),
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 25),
    }


@pytest.mark.parametrize("year", range(2020, 2036))
def test_calendars_agree_with_the_holidays_package(year: int) -> None:
    # What `holidays` returns (checked for 2020-2035): for both countries it also lists Easter
    # Sunday and Whit Sunday ("Pentecost"), which are Sundays anyway and so never change a
    # deadline; the module leaves them out because the statutes list only the Mondays. For NL the
    # package lists Good Friday (so does the Algemene termijnenwet) but Liberation Day only in
    # lustrum years (year % 5 == 0), whereas for time limits 5 May counts every year. So:
    #   ours(NL) == package(NL) - {Easter Sunday, Whit Sunday} | {5 May}
    #   ours(BE) == package(BE) - {Easter Sunday, Whit Sunday}
    easter = dateutil_easter(year)
    sundays = {easter, easter + timedelta(days=49)}
    package_nl = set(holidays.country_holidays("NL", years=year))
    package_be = set(holidays.country_holidays("BE", years=year))
    assert sundays <= package_nl
    assert sundays <= package_be
    assert (date(year, 5, 5) in package_nl) == (year % 5 == 0)
    assert easter - timedelta(days=2) in package_nl  # Good Friday
    assert easter - timedelta(days=2) not in package_be

    ours_nl = public_holidays("NL", year)
    ours_be = public_holidays("BE", year)
    assert ours_nl == (package_nl - sundays) | {date(year, 5, 5)}
    assert ours_be == package_be - sundays
    # Every date both list agrees, and ours has no Easter/Whit Sunday.
    assert not ours_nl & sundays
    assert not ours_be & sundays


def test_is_working_day() -> None:
    assert is_working_day(date(2026, 3, 5), "NL")  # Thursday
    assert not is_working_day(date(2026, 3, 7), "NL")  # Saturday
    assert not is_working_day(date(2026, 3, 8), "BE")  # Sunday
    assert not is_working_day(date(2026, 4, 3), "NL")  # Good Friday
    assert is_working_day(date(2026, 4, 3), "BE")
    assert is_working_day(date(2026, 12, 28), "BE")  # Monday 28 December


# --------------------------------------------------------------------------- properties

ZONES = [AMS, BRU]
received_st = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2090, 12, 31, 23, 59, 59),
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
)
country_st = st.sampled_from(sorted(COUNTRY_TIME_ZONES))
period_st = st.builds(Period, st.integers(1, 12), st.sampled_from(list(Unit)))
calendar_period_st = st.builds(
    Period, st.integers(1, 12), st.sampled_from([Unit.DAYS, Unit.WEEKS, Unit.MONTHS])
)
paused_st = st.integers(0, 60)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,  # write nothing (.hypothesis/) into the tree
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(received=received_st, period=period_st, country=country_st, paused=paused_st)
def test_never_before_receipt(received: datetime, period: Period, country: str, paused: int):
    result = period_end(received, period, country=country, paused_days=paused)
    assert result > received
    assert result.tzinfo == ZoneInfo(COUNTRY_TIME_ZONES[country])


@PROPERTY_SETTINGS
@given(received=received_st, period=calendar_period_st, country=country_st, paused=paused_st)
def test_calendar_periods_end_at_23_59_59_on_a_working_day(
    received: datetime, period: Period, country: str, paused: int
) -> None:
    result = period_end(received, period, country=country, paused_days=paused)
    assert result.weekday() < 5
    assert is_working_day(result.date(), country)
    assert (result.hour, result.minute, result.second, result.microsecond) == (23, 59, 59, 0)
    # The offset is the one in force on that date (DST-correct), i.e. a real local time.
    zone = ZoneInfo(COUNTRY_TIME_ZONES[country])
    assert result.utcoffset() == zone.utcoffset(result.replace(tzinfo=None))


@PROPERTY_SETTINGS
@given(
    first=received_st,
    second=received_st,
    period=period_st,
    country=country_st,
    paused=paused_st,
)
def test_monotonic_in_receipt(
    first: datetime, second: datetime, period: Period, country: str, paused: int
) -> None:
    early, late = sorted([first, second])
    a = period_end(early, period, country=country, paused_days=paused)
    b = period_end(late, period, country=country, paused_days=paused)
    assert a <= b


@PROPERTY_SETTINGS
@given(received=received_st, months=st.integers(1, 12), country=country_st)
def test_month_period_lands_on_same_date_or_month_end_then_moves(
    received: datetime, months: int, country: str
) -> None:
    # Reference computation of the unmoved date, done independently of the module: step month
    # by month and clamp at the end.
    local = received.astimezone(ZoneInfo(COUNTRY_TIME_ZONES[country])).date()
    month_index = local.year * 12 + local.month - 1 + months
    year, month0 = divmod(month_index, 12)
    next_first = date(year + (month0 + 1) // 12, (month0 + 1) % 12 + 1, 1)
    last_of_month = next_first - timedelta(days=1)
    unmoved = last_of_month.replace(day=min(local.day, last_of_month.day))
    assert unmoved.day == local.day or unmoved == last_of_month

    result = period_end(received, Period(months, Unit.MONTHS), country=country).date()
    # At most Good Friday .. King's Day (2038-style): five non-working days in a row.
    assert 0 <= (result - unmoved).days <= 5
    skipped = [unmoved + timedelta(days=i) for i in range((result - unmoved).days)]
    assert all(not is_working_day(d, country) for d in skipped)
    assert is_working_day(result, country)


@PROPERTY_SETTINGS
@given(received=received_st, period=period_st, country=country_st, paused=paused_st)
def test_compute_deadlines_invariants(
    received: datetime, period: Period, country: str, paused: int
) -> None:
    d = compute_deadlines(received, country=country, declared=period, paused_days=paused)
    assert d.notice_by == d.statutory
    assert d.statutory <= d.extended
    assert d.declared is not None
    assert d.effective == min(d.declared, d.statutory)
    assert d.declared_exceeds_statutory == (d.declared > d.statutory)
    assert d.effective <= d.statutory


def test_an_extension_supersedes_a_faster_declared_promise() -> None:
    # Defero promises four weeks (2 April 2026); once it extends, it answers by the
    # three-month date, and that is the date the subject is told.
    weeks = Period(4, Unit.WEEKS)
    before = compute_deadlines(at(2026, 3, 5), country="NL", declared=weeks)
    assert before.effective == before.declared
    after = compute_deadlines(at(2026, 3, 5), country="NL", declared=weeks, extended=True)
    assert after.effective == after.extended.replace() == before.extended
    assert after.declared == before.declared  # still recorded beside it


def test_working_days_between_counts_only_working_days_and_has_a_sign():
    import datetime as dt
    from zoneinfo import ZoneInfo

    from legalclock.workdays import working_days_between

    ams = ZoneInfo("Europe/Amsterdam")
    friday = dt.datetime(2026, 4, 24, 17, 0, tzinfo=ams)  # King's Day is Monday 27 April 2026
    tuesday = dt.datetime(2026, 4, 28, 9, 0, tzinfo=ams)
    assert working_days_between(friday, tuesday, country="NL") == 1
    assert working_days_between(tuesday, friday, country="NL") == -1
    assert working_days_between(friday, friday + dt.timedelta(hours=3), country="NL") == 0
    assert working_days_between(friday, tuesday, country="BE") == 2
