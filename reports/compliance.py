"""The compliance report: for a period and one or more controllers (the auditor's own scope),
the figures that show the deadlines were met, as a PDF with charts and as CSV, and the request
log as CSV (what an ICO-style accountability review asks for).

The period is of receipt: requests received from ``start`` to ``end`` (whole days, in each
controller's time zone). The figures are counted by the database in a fixed number of queries
whatever the period (``figures``): one pass over the requests grouped by month and state (on
PostgreSQL by working days to decide too, found by binary search of each controller's working
days: ``_Calendar``), every other count taken in it; the ID-document rules; the suspensions;
elsewhere than PostgreSQL, the (received, closed) pairs counted here (``_days_here``). Months
are each controller's own.

"On time" is decided for the requests that were decided (completed or refused): the decision
was sent to the subject (the sent time of the mail that carries it, ``Case.decision_sent_at``, not
the officer's click) by the effective deadline (the one the subject was told: declared,
statutory or extended) and, apart, by the statutory one. A decision whose mail has not left, or
bounced, is "not yet communicated": decided, never on time, and counted apart. An extension was
notified in time when its notice left by the one-month date. Withdrawn and expired requests are
counted, not judged.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
from collections.abc import Iterator, Sequence
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
from django.utils.formats import number_format
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
from cases.models.events import ID_COPY_EVENTS
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
    # Decided, but the mail carrying the decision has not reached the subject (never on time).
    not_communicated: int = 0
    on_time: int = 0  # by the effective deadline
    on_time_statutory: int = 0
    median_days: float | None = None  # working days from receipt to the decision's sending
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


def figures(
    controllers: Sequence[Controller],
    start: dt.date,
    end: dt.date,
    *,
    now: dt.datetime | None = None,
) -> Figures:
    """The period's figures in three queries whatever its size, one of which reads the
    requests, once, grouped by month, state and (on PostgreSQL) working days to decide, with the
    other counts and breakdowns taken as filtered counts in the same pass; a few hundred rows
    summed here. The others read the ID-document rules and the suspensions (bench/report
    measures it at 1,000 and 100,000 requests)."""
    now = now or timezone.now()
    base = cases_in(controllers, start, end)
    out = Figures(start, end, [c.legal_name for c in controllers])
    calendars = {c.pk: _Calendar(c, start, end) for c in controllers}
    in_sql = connections[base.db].vendor == "postgresql" and bool(calendars)
    if in_sql:
        # A month and a working day are found by a binary search of each controller's own
        # instants (width_bucket): no time zone is applied to any row (which cost as much as
        # the rest of the pass).
        grouped = base.annotate(month=_bucket(base, calendars), days=_days_sql(base, calendars))
        keys = ["month", "days", "state"]
    else:
        grouped = base.annotate(month=_local("received_at", controllers, TruncMonth))
        keys = ["month", "state"]
    # The requests an ID copy was asked of (with the request, where the form demands it, or
    # later): a hashed set built once through a partial index
    # (an EXISTS a request costs an index probe each: 0.8 s at 100,000).
    asked = Q(pk__in=CaseEvent.objects.filter(ID_COPY_EVENTS).values("case_id"))
    # Where the statement's rule demands an ID copy for the right (lint: likely
    # disproportionate).
    flagged = Q(pk__isnull=True)  # false for every row, the start of an OR
    for controller_id, right in RightDeclaration.objects.filter(
        controller__in=controllers, verification=Verification.ID_DOCUMENT
    ).values_list("controller_id", "right"):
        flagged |= Q(controller_id=controller_id, right=right)
    # The state is a key of the groups: decided, open and the states' breakdown follow from
    # it, and the counts below that only mean something in some states (on time, overdue,
    # the grounds of a refusal) are summed here from those states' groups only. Each filtered
    # count costs every row; a key costs more groups (bench/RESULTS.md).
    split = {
        **{f"right:{v}": Count("pk", filter=Q(right=v)) for v in Right.values},
        **{f"channel:{v}": Count("pk", filter=Q(channel=v)) for v in Channel.values},
        **{f"ground:{v}": Count("pk", filter=Q(refusal_ground=v)) for v in RefusalGround.values},
    }
    groups = grouped.values(*keys).annotate(
        n=Count("pk"),
        # Kept by what was sent to the subject, not by the officer's click.
        on_time=Count("pk", filter=Q(decision_sent_at__lte=F("effective_deadline"))),
        on_time_statutory=Count("pk", filter=Q(decision_sent_at__lte=F("statutory_deadline"))),
        unsent=Count("pk", filter=Q(decision_sent_at__isnull=True)),
        extended=Count("pk", filter=Q(extended_at__isnull=False)),
        extended_in_time=Count("pk", filter=Q(extension_sent_at__lte=F("notice_by"))),
        # A running suspension stops the clock: such a case is not overdue while it runs.
        overdue_now=Count("pk", filter=Q(effective_deadline__lt=now, paused_since__isnull=True)),
        paused_now=Count("pk", filter=Q(paused_since__isnull=False)),
        id_asked=Count("pk", filter=asked),
        id_flagged=Count("pk", filter=asked & flagged),
        **split,
    )
    labels = _month_labels(start, end)
    months: dict[str, list[int]] = {}
    histogram: dict[int, int] = {}
    # Summed over every group; the grounds over the refused ones only (a completed request
    # may carry the ground of a partial refusal).
    everywhere = ["n", "extended", "extended_in_time", "paused_now", "id_asked", "id_flagged"]
    everywhere += [key for key in split if not key.startswith("ground:")]
    grounds = [key for key in split if key.startswith("ground:")]
    sums = dict.fromkeys([*everywhere, *grounds], 0)
    for g in groups.order_by():
        state, n, month = g["state"], g["n"], g["month"]
        label = labels[month - 1] if in_sql else month.strftime("%Y-%m")
        counts = months.setdefault(label, [0, 0, 0])
        counts[0] += n
        sums[f"state:{state}"] = sums.get(f"state:{state}", 0) + n
        if state in DECIDED:
            out.decided += n
            out.on_time += g["on_time"]
            out.on_time_statutory += g["on_time_statutory"]
            out.not_communicated += g["unsent"]
            counts[1] += n
            counts[2] += g["on_time"]
            if in_sql and g["days"] is not None:  # None: not sent, no days to count
                histogram[g["days"]] = histogram.get(g["days"], 0) + n
        elif state in OPEN:
            out.open_now += n
            out.overdue_now += g["overdue_now"]
        for key in grounds if state == State.REFUSED else ():
            sums[key] += g[key]
        for key in everywhere:
            sums[key] += g[key]
    out.by_month = [(m, *counts) for m, counts in sorted(months.items())]  # type: ignore[misc]
    out.received = sums["n"]
    out.extended, out.extended_notified_in_time = sums["extended"], sums["extended_in_time"]
    out.id_asked, out.id_asked_flagged = sums["id_asked"], sums["id_flagged"]

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
    out.suspended = out.suspensions = sums["paused_now"]
    paused = Suspension.objects.filter(case__in=base).aggregate(
        n=Count("pk"), cases=Count("case", distinct=True)
    )
    out.suspensions += paused["n"]
    out.suspended += paused["cases"]

    if not in_sql:  # the (received, closed) pairs come back and are counted here
        histogram = _days_here(base.filter(state__in=DECIDED), calendars)
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


def _month_labels(start: dt.date, end: dt.date) -> list[str]:
    """The period's months, "YYYY-MM", from the one ``start`` is in to the one ``end`` is in."""
    labels, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels


class _Calendar:
    """One controller's instants for the period: the local midnight starting each month of it,
    and the one starting each working day from the day before it to tomorrow (no decision is
    later than now, whatever ``now`` a caller passes).

    The working days from receipt to decision (those after the day of receipt up to and
    including the day of decision, as the legal clock counts) are then the working days begun
    by the decision less those begun by the receipt: two binary searches, with no time zone
    applied to the request's times, in SQL (``width_bucket``) or here (``bisect``)."""

    def __init__(self, controller: Controller, start: dt.date, end: dt.date) -> None:
        zone = ZoneInfo(controller.time_zone)
        self.months = [
            dt.datetime.combine(dt.date.fromisoformat(f"{label}-01"), dt.time(), tzinfo=zone)
            for label in _month_labels(start, end)
        ]
        last = timezone.now().astimezone(zone).date() + dt.timedelta(days=1)
        day = min(start, last) - dt.timedelta(days=1)
        extra = list(controller.holiday_dates)
        self.working: list[dt.datetime] = []
        while day <= last:
            if is_working_day(day, controller.country, extra=extra):
                self.working.append(dt.datetime.combine(day, dt.time(), tzinfo=zone))
            day += dt.timedelta(days=1)

    def days(self, received: dt.datetime, closed: dt.datetime) -> int:
        return bisect.bisect_right(self.working, closed) - bisect.bisect_right(
            self.working, received
        )


def _by_controller(
    base: QuerySet[Case], calendars: dict[int, _Calendar], then: str, arrays: Any
) -> tuple[str, list[Any]]:
    """``CASE controller_id WHEN <id> THEN <then> ...``: ``then`` with each controller's own
    arrays (names from the model, quoted; every value a parameter)."""
    table = connections[base.db].ops.quote_name(Case._meta.db_table)
    whens, params = [], []
    for controller_id, calendar in calendars.items():
        values = arrays(calendar)
        whens.append("WHEN %s THEN " + then.format(table=table))
        params += [controller_id, *values]
    return f"CASE {table}.controller_id {' '.join(whens)} END", params


def _bucket(base: QuerySet[Case], calendars: dict[int, _Calendar]) -> RawSQL:
    """On PostgreSQL: the month of receipt, as its number in the period (from 1)."""
    sql, params = _by_controller(
        base,
        calendars,
        "width_bucket({table}.received_at, %s::timestamptz[])",
        lambda c: [c.months],
    )
    return RawSQL(sql, params, output_field=IntegerField())  # noqa: S611


def _days_sql(base: QuerySet[Case], calendars: dict[int, _Calendar]) -> RawSQL:
    """On PostgreSQL: a decided request's working days from receipt to the sending of its
    decision (NULL for the others, and for a decision not sent: those groups do not split by
    it)."""
    sql, params = _by_controller(
        base,
        calendars,
        "width_bucket({table}.decision_sent_at, %s::timestamptz[])"
        " - width_bucket({table}.received_at, %s::timestamptz[])",
        lambda c: [c.working, c.working],
    )
    table = connections[base.db].ops.quote_name(Case._meta.db_table)
    states = ", ".join(["%s"] * len(DECIDED))
    sql = f"CASE WHEN {table}.state IN ({states}) THEN {sql} END"
    return RawSQL(sql, [*DECIDED, *params], output_field=IntegerField())  # noqa: S611


def _days_here(decided: QuerySet[Case], calendars: dict[int, _Calendar]) -> dict[int, int]:
    """The same counts as ``_days_sql``, here: how many requests took each number of days."""
    histogram: dict[int, int] = {}
    rows = decided.filter(decision_sent_at__isnull=False).values_list(
        "controller_id", "received_at", "decision_sent_at"
    )
    for controller_id, received, closed in rows.iterator(chunk_size=5000):
        days = calendars[controller_id].days(received, closed)
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
    # Outside the f-strings: xgettext does not look inside them (a string there is never
    # translated).
    received, refused = _("Received"), _("Refused")
    out = [
        (_("Period"), f"{data.start.isoformat()} – {data.end.isoformat()}"),
        (_("Controllers"), "; ".join(data.controllers)),
        (_("Requests received"), str(data.received)),
    ]
    out += [(f"{received}: {_label(Right.choices, k)}", str(v)) for k, v in data.by_right.items()]
    out += [
        (f"{received}: {_label(Channel.choices, k)}", str(v)) for k, v in data.by_channel.items()
    ]
    now = _("Now")
    out += [(f"{now}: {event_types.state_label(k)}", str(v)) for k, v in data.by_state.items()]
    out += [
        (_("Decided (completed or refused)"), str(data.decided)),
        (
            _("Decided but not yet communicated (the mail has not left, or did not arrive)"),
            str(data.not_communicated),
        ),
        (
            _("Decided and sent by the effective deadline"),
            f"{data.on_time} ({_pct(data.on_time_pct)})",
        ),
        (
            _("Decided and sent by the statutory deadline"),
            f"{data.on_time_statutory} ({_pct(data.on_time_statutory_pct)})",
        ),
        (_("Working days to the decision sent: median"), _num(data.median_days)),
        (_("Working days to the decision sent: 90th percentile"), _num(data.p90_days)),
        (_("Extended"), str(data.extended)),
        (_("Extension notified in time"), str(data.extended_notified_in_time)),
        (_("Requests whose clock was suspended"), str(data.suspended)),
        (_("Suspensions"), str(data.suspensions)),
    ]
    out += [(f"{refused}: {event_types.ground_label(k)}", str(v)) for k, v in data.refusals.items()]
    out += [
        (_("ID copies asked (with the request or later)"), str(data.id_asked)),
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
    """A share in the active language's notation (83.8% in English, 83,8% in Dutch)."""
    return "—" if value is None else f"{number_format(value, decimal_pos=1)}%"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return number_format(value, decimal_pos=0 if value == int(value) else 1)


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
            _("Decision sent"),
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
                "decision_sent_at",
                "state",
                "refusal_ground",
            )
        )
        for row in cases.iterator(chunk_size=2000):
            ref, name, right, channel, received, due, closed, sent, state, ground = row
            yield _line(
                [
                    ref,
                    name,
                    str(rights.get(right, right)),
                    str(channels.get(channel, channel)),
                    received.isoformat(),
                    due.isoformat(),
                    closed.isoformat() if closed else "",
                    sent.isoformat() if sent else "",
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
