"""When the reminders of an open request fall due: pure arithmetic on its deadlines.

- ``halfway``: half the time from receipt to the effective deadline has gone;
- ``three_days``: three working days before the effective deadline;
- ``due_today``: the start of the deadline's local day;
- ``overdue``: the deadline itself;
- ``notice_due``: three working days before the one-month date, while an extension or refusal
  notice may still be due (Art. 12(3)-(4)).

None falls before receipt: a request received late on a Friday with a 48-hour promise gets its
early reminders at once, not in the past.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from .workdays import _country, _zone, working_days_before

MILESTONES = ("halfway", "three_days", "notice_due", "due_today", "overdue")


def milestone_times(
    *,
    received: datetime,
    deadline: datetime,
    notice_by: datetime,
    notice_pending: bool,
    country: str,
    tz: str | None = None,
    extra_holidays: Iterable[date] = (),
) -> dict[str, datetime]:
    """Each milestone and when it falls due; ``notice_due`` only while ``notice_pending``."""
    extra = tuple(extra_holidays)

    def before(moment: datetime) -> datetime:
        return working_days_before(moment, 3, country=country, tz=tz, extra_holidays=extra)

    start_of_day = deadline.astimezone(_zone(_country(country), tz)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    times = {
        "halfway": received + (deadline - received) / 2,
        "three_days": max(received, before(deadline)),
        "due_today": max(received, start_of_day),
        "overdue": deadline,
    }
    if notice_pending:
        times["notice_due"] = max(received, before(notice_by))
    return times
