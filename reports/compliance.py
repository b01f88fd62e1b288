"""The compliance report: for a period and one or more controllers (the auditor's own scope),
the figures that show the deadlines were met, as a PDF with charts and as CSV, and the request
log as CSV (what an ICO-style accountability review asks for).

The period is of receipt: requests received from ``start`` to ``end`` (whole days, in each
controller's time zone). The figures are counted by the database in a fixed number of queries
whatever the period (``figures``): one pass over the requests grouped by month, every count
taken in it (on PostgreSQL the working days to decide too, against a prefix sum of each
controller's calendar: ``_days_sql``); the ID-document rules; the suspensions; elsewhere than
PostgreSQL, the (received, closed) pairs counted here (``_days_here``). Months are each
controller's own.

"On time" is decided for the requests that were decided (completed or refused): closed by the
effective deadline (the one the subject was told: declared, statutory or extended) and, apart,
by the statutory one. Withdrawn and expired requests are counted, not judged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Case as DbCase
from django.db.models import Count, F, IntegerField, Q, QuerySet, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncMonth
from django.db.models.functions.datetime import TruncBase
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from cases import events as event_types
from cases.models import (
    OPEN_STATES,
    Case,
    CaseEvent,
    Channel,
    RefusalGround,
    State,
    Suspension,
)
from cases.models.events import ID_ASKED
from cases.pdf import render_pdf
from controllers.models import Controller, Right, RightDeclaration, Verification
from legalclock.workdays import is_working_day

DECIDED = (State.COMPLETED, State.REFUSED)
# Open as the queue counts it: confirmed and not ended (an unconfirmed request's clock has not
# started).
OPEN = OPEN_STATES


@dataclass
class Figures:
    start: dt.date
    end: dt.date
    controllers: list[str]
    received: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_right: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    decided: int = 0
    on_time: int = 0  # by the effective deadline
    on_time_statutory: int = 0
    median_days: float | None = None  # working days from receipt to decision
    p90_days: float | None = None
    extended: int = 0
    extended_notified_in_time: int = 0
    suspended: int = 0  # requests whose clock was paused
    suspensions: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    id_asked: int = 0
    id_asked_flagged: int = 0  # where the statement's rule demands the copy (lint: likely
    # disproportionate)
    open_now: int = 0
    overdue_now: int = 0
    by_month: list[tuple[str, int, int, int]] = field(default_factory=list)  # month, received,
    # decided, decided on time

    @property
    def on_time_pct(self) -> float | None:
        return round(100 * self.on_time / self.decided, 1) if self.decided else None

    @property
    def on_time_statutory_pct(self) -> float | None:
        return round(100 * self.on_time_statutory / self.decided, 1) if self.decided else None

    @property
    def flagged_pct(self) -> float | None:
        return round(100 * self.id_asked_flagged / self.id_asked, 1) if self.id_asked else None


def cases_in(controllers: Sequence[Controller], start: dt.date, end: dt.date) -> QuerySet[Case]:
    """The requests received in the period (inclusive), each by its controller's local days."""
    condition = Q()
    for controller in controllers:
        zone = ZoneInfo(controller.time_zone)
        first = dt.datetime.combine(start, dt.time(), tzinfo=zone)
        after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        condition |= Q(controller=controller, received_at__gte=first, received_at__lt=after)
    return Case.objects.filter(condition) if controllers else Case.objects.none()


def _local(field: str, controllers: Sequence[Controller], trunc: type[TruncBase]) -> Any:
    """``field`` truncated in each request's own controller's time zone."""
    if len(controllers) == 1:
        return trunc(field, tzinfo=ZoneInfo(controllers[0].time_zone))
    return DbCase(
        *[When(controller=c, then=trunc(field, tzinfo=ZoneInfo(c.time_zone))) for c in controllers],
        default=trunc(field, tzinfo=dt.UTC),
    )


def figures(
    controllers: Sequence[Controller],
    start: dt.date,
    end: dt.date,
    *,
    now: dt.datetime | None = None,
) -> Figures:
    """The period's figures in three queries whatever its size, one of which reads the
    requests, once: grouped by month (and, on PostgreSQL, by working days to decide), with every
    count and breakdown taken as a filtered count in the same pass, a few hundred rows summed
    here. The others read the ID-document rules and the suspensions (bench/report measures it
    at 1,000 and 100,000 requests)."""
    now = now or timezone.now()
    base = cases_in(controllers, start, end)
    out = Figures(start, end, [c.legal_name for c in controllers])
    decided = Q(state__in=DECIDED)
    calendars = _calendars(controllers, start)
    days = _days_sql(base, calendars)
    by_month = base.annotate(month=_local("received_at", controllers, TruncMonth))
    if days is not None:
        by_month = by_month.annotate(days=days)
    # The requests an ID copy was asked of: a hashed set built once through a partial index
    # (an EXISTS a request costs an index probe each: 0.8 s at 100,000).
    asked = Q(pk__in=CaseEvent.objects.filter(action__in=ID_ASKED).values("case_id"))
    # Where the statement's rule demands an ID copy for the right (lint: likely
    # disproportionate).
    flagged = Q(pk__isnull=True)  # false for every row, the start of an OR
    for controller_id, right in RightDeclaration.objects.filter(
        controller__in=controllers, verification=Verification.ID_DOCUMENT
    ).values_list("controller_id", "right"):
        flagged |= Q(controller_id=controller_id, right=right)
    # Every count in one pass over the requests; the breakdowns as counts of their own (the
    # values are the models' choices), not as more groups.
    split = {
        **{f"right:{v}": Count("pk", filter=Q(right=v)) for v in Right.values},
        **{f"channel:{v}": Count("pk", filter=Q(channel=v)) for v in Channel.values},
        **{f"state:{v}": Count("pk", filter=Q(state=v)) for v in State.values},
        **{
            f"ground:{v}": Count("pk", filter=Q(state=State.REFUSED, refusal_ground=v))
            for v in RefusalGround.values
        },
    }
    groups = by_month.values("month", *(["days"] if days is not None else [])).annotate(
        n=Count("pk"),
        decided=Count("pk", filter=decided),
        on_time=Count("pk", filter=decided & Q(closed_at__lte=F("effective_deadline"))),
        on_time_statutory=Count("pk", filter=decided & Q(closed_at__lte=F("statutory_deadline"))),
        extended=Count("pk", filter=Q(extended_at__isnull=False)),
        extended_in_time=Count("pk", filter=Q(extended_at__lte=F("notice_by"))),
        open_now=Count("pk", filter=Q(state__in=OPEN)),
        # A running suspension stops the clock: such a case is not overdue while it runs.
        overdue_now=Count(
            "pk", filter=Q(state__in=OPEN, effective_deadline__lt=now, paused_since__isnull=True)
        ),
        paused_now=Count("pk", filter=Q(paused_since__isnull=False)),
        id_asked=Count("pk", filter=asked),
        id_flagged=Count("pk", filter=asked & flagged),
        **split,
    )
    months: dict[str, list[int]] = {}
    histogram: dict[int, int] = {}
    sums: dict[str, int] = {}
    for g in groups.order_by():
        for key, value in g.items():
            if key not in ("month", "days"):
                sums[key] = sums.get(key, 0) + value
        month = months.setdefault(g["month"].strftime("%Y-%m"), [0, 0, 0])
        month[0] += g["n"]
        month[1] += g["decided"]
        month[2] += g["on_time"]
        if g.get("days") is not None:
            histogram[g["days"]] = histogram.get(g["days"], 0) + g["decided"]
    out.by_month = [(m, *counts) for m, counts in sorted(months.items())]  # type: ignore[misc]
    out.received, out.decided = sums.get("n", 0), sums.get("decided", 0)
    out.on_time, out.on_time_statutory = sums.get("on_time", 0), sums.get("on_time_statutory", 0)
    out.extended = sums.get("extended", 0)
    out.extended_notified_in_time = sums.get("extended_in_time", 0)
    out.open_now, out.overdue_now = sums.get("open_now", 0), sums.get("overdue_now", 0)
    out.id_asked, out.id_asked_flagged = sums.get("id_asked", 0), sums.get("id_flagged", 0)

    def breakdown(prefix: str) -> dict[str, int]:
        return {
            key.removeprefix(prefix): value
            for key, value in sums.items()
            if key.startswith(prefix) and value
        }

    out.by_state = breakdown("state:")
    out.by_right = breakdown("right:")
    out.by_channel = dict(sorted(breakdown("channel:").items()))
    out.refusals = dict(sorted(breakdown("ground:").items()))
    # Running suspensions count now; the ended ones are added from their rows.
    out.suspended = out.suspensions = sums.get("paused_now", 0)
    paused = Suspension.objects.filter(case__in=base).aggregate(
        n=Count("pk"), cases=Count("case", distinct=True)
    )
    out.suspensions += paused["n"]
    out.suspended += paused["cases"]

    if days is None:  # not PostgreSQL: the pairs come back and are counted here
        histogram = _days_here(base.filter(decided), calendars)
    if histogram:
        out.median_days, out.p90_days = _median_p90(histogram)
    return out


def _local(field: str, controllers: Sequence[Controller], trunc: type[TruncBase]) -> Any:
    """``field`` truncated in each request's own controller's time zone."""
    if len(controllers) == 1:
        return trunc(field, tzinfo=ZoneInfo(controllers[0].time_zone))
    return DbCase(
        *[When(controller=c, then=trunc(field, tzinfo=ZoneInfo(c.time_zone))) for c in controllers],
        default=trunc(field, tzinfo=dt.UTC),
    )


Calendars = dict[int, tuple[ZoneInfo, "_WorkingDays"]]


def _calendars(controllers: Sequence[Controller], start: dt.date) -> Calendars:
    """Each controller's working days as a prefix sum, from the day before the period to
    tomorrow (no decision is later than now, whatever ``now`` a caller passes)."""
    out = {}
    for controller in controllers:
        zone = ZoneInfo(controller.time_zone)
        last = timezone.now().astimezone(zone).date() + dt.timedelta(days=1)
        first = min(start, last) - dt.timedelta(days=1)
        calendar = _WorkingDays(controller.country, first, last, controller.holiday_dates)
        out[controller.pk] = (zone, calendar)
    return out


def _days_sql(base: QuerySet[Case], calendars: Calendars) -> RawSQL | None:
    """On PostgreSQL: a decided request's working days from receipt to decision, computed in
    the query (day d of a calendar is element d - first + 1 of its prefix sum passed as an
    array; arrays count from 1); None elsewhere."""
    if connections[base.db].vendor != "postgresql" or not calendars:
        return None
    table = connections[base.db].ops.quote_name(Case._meta.db_table)
    closed, received = f"{table}.closed_at", f"{table}.received_at"
    cases, params = [], []
    for controller_id, (zone, calendar) in calendars.items():
        cases.append(
            f"WHEN %s THEN (%s::int[])[({closed} AT TIME ZONE %s)::date - %s::date + 1]"
            f" - (%s::int[])[({received} AT TIME ZONE %s)::date - %s::date + 1]"
        )
        prefix = calendar.cumulative[1:]
        params += [controller_id, prefix, str(zone), calendar.first]
        params += [prefix, str(zone), calendar.first]
    states = ", ".join(["%s"] * len(DECIDED))
    # Names from the model, quoted; every value a parameter.
    sql = (
        f"CASE WHEN {table}.state IN ({states}) THEN CASE {table}.controller_id"
        f" {' '.join(cases)} END END"
    )
    return RawSQL(sql, [*DECIDED, *params], output_field=IntegerField())  # noqa: S611


def _days_here(decided: QuerySet[Case], calendars: Calendars) -> dict[int, int]:
    """The same counts as ``_days_sql``, here: how many requests took each number of days."""
    histogram: dict[int, int] = {}
    rows = decided.values_list("controller_id", "received_at", "closed_at")
    for controller_id, received, closed in rows.iterator(chunk_size=5000):
        zone, calendar = calendars[controller_id]
        days = calendar.between(received.astimezone(zone).date(), closed.astimezone(zone).date())
        histogram[days] = histogram.get(days, 0) + 1
    return histogram


def _median_p90(histogram: dict[int, int]) -> tuple[float, float]:
    """The median (the mean of the two middle values when they are even) and the 90th
    percentile (nearest rank) of the values a histogram counts."""
    ordered = sorted(histogram.items())
    total = sum(histogram.values())

    def at(rank: int) -> int:  # the value at 1-based rank
        seen = 0
        for value, count in ordered:
            seen += count
            if seen >= rank:
                return value
        raise ValueError(rank)

    middle = (at((total + 1) // 2) + at(total // 2 + 1)) / 2
    return float(middle), float(at(-(-90 * total // 100)))


class _WorkingDays:
    """Working days between two dates of one country in O(1): a prefix sum over the span."""

    def __init__(self, country: str, first: dt.date, last: dt.date, extra: Iterable[dt.date]):
        self.first = first
        extra = list(extra)
        self.cumulative = [0]
        day = first
        while day <= last:
            working = is_working_day(day, country, extra=extra)
            self.cumulative.append(self.cumulative[-1] + working)
            day += dt.timedelta(days=1)

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end``."""
        a = (start - self.first).days + 1
        b = (end - self.first).days + 1
        return self.cumulative[b] - self.cumulative[a]


# --- Charts, as SVG the PDF keeps as vector graphics.


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]]
) -> SafeString:
    """A grouped bar chart: ``series`` of (name, values, colour). Labels and names are escaped;
    the rest is numbers the code computed."""
    width, height, left, bottom, top = 170.0, 70.0, 12.0, 14.0, 8.0
    peak = max([1, *[v for _n, values, _c in series for v in values]])
    groups = max(len(labels), 1)
    slot = (width - left) / groups
    bar = slot * 0.8 / max(len(series), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}mm" height="{height}mm" role="img">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        'stroke="#333" stroke-width="0.3"/>',
        f'<text x="{left - 1}" y="{top + 2}" font-size="3" text-anchor="end">{peak}</text>',
    ]
    plot = height - bottom - top
    for g, label in enumerate(labels):
        x0 = left + g * slot + slot * 0.1
        for s, (_name, values, colour) in enumerate(series):
            value = values[g] if g < len(values) else 0
            h = plot * value / peak
            parts.append(
                f'<rect x="{x0 + s * bar:.2f}" y="{height - bottom - h:.2f}" width="{bar:.2f}" '
                f'height="{h:.2f}" fill="{colour}"/>'
            )
        parts.append(
            f'<text x="{x0 + slot * 0.4:.2f}" y="{height - bottom + 4}" font-size="2.6" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for s, (name, _values, colour) in enumerate(series):
        x = left + s * 45
        parts.append(f'<rect x="{x}" y="{height - 5}" width="3" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{x + 4}" y="{height - 2.5}" font-size="3">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped above


# --- Outputs.


def _label(choices: Any, value: str) -> str:
    return str(dict(choices).get(value, value))


def rows(data: Figures) -> list[tuple[str, str]]:
    """The figures as (name, value) rows: the CSV, and the table the PDF prints."""
    out = [
        (_("Period"), f"{data.start.isoformat()} – {data.end.isoformat()}"),
        (_("Controllers"), "; ".join(data.controllers)),
        (_("Requests received"), str(data.received)),
    ]
    out += [
        (f"{_('Received')}: {_label(Right.choices, k)}", str(v)) for k, v in data.by_right.items()
    ]
    out += [
        (f"{_('Received')}: {_label(Channel.choices, k)}", str(v))
        for k, v in data.by_channel.items()
    ]
    out += [(f"{_('Now')}: {event_types.state_label(k)}", str(v)) for k, v in data.by_state.items()]
    out += [
        (_("Decided (completed or refused)"), str(data.decided)),
        (_("Decided by the effective deadline"), f"{data.on_time} ({_pct(data.on_time_pct)})"),
        (
            _("Decided by the statutory deadline"),
            f"{data.on_time_statutory} ({_pct(data.on_time_statutory_pct)})",
        ),
        (_("Working days to decide: median"), _num(data.median_days)),
        (_("Working days to decide: 90th percentile"), _num(data.p90_days)),
        (_("Extended"), str(data.extended)),
        (_("Extension notified in time"), str(data.extended_notified_in_time)),
        (_("Requests whose clock was suspended"), str(data.suspended)),
        (_("Suspensions"), str(data.suspensions)),
    ]
    out += [
        (f"{_('Refused')}: {event_types.ground_label(k)}", str(v)) for k, v in data.refusals.items()
    ]
    out += [
        (_("ID copies asked"), str(data.id_asked)),
        (
            _("of which the statement's rule demands one (likely disproportionate)"),
            f"{data.id_asked_flagged} ({_pct(data.flagged_pct)})",
        ),
        (_("Open now"), str(data.open_now)),
        (_("Overdue now"), str(data.overdue_now)),
        (_("Complaints recorded"), _("not recorded by dsar")),
    ]
    return out


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def figures_csv(data: Figures, language: str = "en") -> str:
    with translation.override(language):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([_("Figure"), _("Value")])
        writer.writerows(rows(data))
        return buffer.getvalue()


def request_log(
    controllers: Sequence[Controller], start: dt.date, end: dt.date, language: str = "en"
) -> Iterator[str]:
    """The request log, line by line (streamed: a year of requests is never held at once)."""
    with translation.override(language):
        header = [
            _("Reference"),
            _("Controller"),
            _("Right"),
            _("Channel"),
            _("Received"),
            _("Due"),
            _("Closed"),
            _("Outcome"),
            _("Ground"),
        ]
        rights, channels = dict(Right.choices), dict(Channel.choices)
        yield _line(header)
        cases = (
            cases_in(controllers, start, end)
            .order_by("reference")
            .values_list(
                "reference",
                "controller__legal_name",
                "right",
                "channel",
                "received_at",
                "effective_deadline",
                "closed_at",
                "state",
                "refusal_ground",
            )
        )
        for ref, name, right, channel, received, due, closed, state, ground in cases.iterator(
            chunk_size=2000
        ):
            yield _line(
                [
                    ref,
                    name,
                    str(rights.get(right, right)),
                    str(channels.get(channel, channel)),
                    received.isoformat(),
                    due.isoformat(),
                    closed.isoformat() if closed else "",
                    event_types.state_label(state),
                    event_types.ground_label(ground),
                ]
            )


def _line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def render(data: Figures, *, language: str = "en") -> bytes:
    with translation.override(language):
        months = [m for m, *_rest in data.by_month]
        charts = [
            bar_chart(
                _("Requests by month of receipt"),
                months,
                [
                    (_("received"), [r for _m, r, _d, _o in data.by_month], "#7f8c8d"),
                    (_("decided"), [d for _m, _r, d, _o in data.by_month], "#2e86c1"),
                    (_("decided on time"), [o for _m, _r, _d, o in data.by_month], "#1e8449"),
                ],
            ),
            bar_chart(
                _("Requests by right"),
                [_label(Right.choices, r).split(" (")[0] for r in data.by_right],
                [(_("received"), list(data.by_right.values()), "#2e86c1")],
            ),
        ]
        html = render_to_string(
            "reports/compliance.html",
            {"figures": data, "rows": rows(data), "charts": charts, "language": language},
        )
    return render_pdf(html, pdf_variant="pdf/a-3b")
