"""The legal clock: GDPR time limits computed to the second, in pure Python.

The bottom layer of the product. It imports nothing from Django or the rest of the project
(import-linter holds it to that), so the one thing that must be right to the day stays small and
testable on its own. The rules and their sources are in ``docs/legal.md`` §1.

- ``periods``: Regulation 1182/71 periods (hours, days, weeks, months), suspension days, and the
  deadlines of one request (declared, statutory, extended, notice-by, effective).
- ``workdays``: NL and BE public holidays by statute, working days, local end of day.
- ``milestones``: when the reminders of an open request fall due.
"""

from .milestones import milestone_times
from .periods import (
    EXTENDED,
    STATUTORY,
    Deadlines,
    Period,
    Unit,
    compute_deadlines,
    period_end,
)
from .workdays import COUNTRY_TIME_ZONES, is_working_day, public_holidays, working_days_before

__all__ = [
    "COUNTRY_TIME_ZONES",
    "EXTENDED",
    "STATUTORY",
    "Deadlines",
    "Period",
    "Unit",
    "compute_deadlines",
    "is_working_day",
    "milestone_times",
    "period_end",
    "public_holidays",
    "working_days_before",
]
