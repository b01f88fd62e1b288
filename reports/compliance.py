"""The compliance report: for a period and one or more controllers (the auditor's own scope),
the figures that show the deadlines were met, as a PDF with charts and as CSV, and the request
log as CSV (what an ICO-style accountability review asks for).

The period is of receipt: requests received from ``start`` to ``end`` (whole days, in each
controller's time zone). The figures are counted by the database, in a fixed number of queries
whatever the period: one aggregate, one group by right and channel, one by refusal ground, one
by month, one of suspensions, and one list of (received, closed) pairs for the working days to
close, which Python counts against a prefix sum of each country's working days (one pass, not a
calendar walk a case).

"On time" is decided for the requests that were decided (completed or refused): closed by the
effective deadline (the one the subject was told: declared, statutory or extended) and, apart,
by the statutory one. Withdrawn and expired requests are counted, not judged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from cases import events as event_types
from cases.models import OPEN_STATES, Case, CaseEvent, Channel, State, Suspension
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


def figures(
    controllers: Sequence[Controller],
    start: dt.date,
    end: dt.date,
    *,
    now: dt.datetime | None = None,
) -> Figures:
    now = now or timezone.now()
    base = cases_in(controllers, start, end)
    out = Figures(start, end, [c.legal_name for c in controllers])
    id_asked = Exists(
        CaseEvent.objects.filter(
            case=OuterRef("pk"), action__in=("ask_identity", "submit_identity")
        )
    )
    flagged = Exists(
        RightDeclaration.objects.filter(
            controller=OuterRef("controller"),
            right=OuterRef("right"),
            verification=Verification.ID_DOCUMENT,
        )
    )
    totals = base.annotate(asked=id_asked, flagged=flagged).aggregate(
        received=Count("pk"),
        decided=Count("pk", filter=Q(state__in=DECIDED)),
        on_time=Count("pk", filter=Q(state__in=DECIDED, closed_at__lte=F("effective_deadline"))),
        on_time_statutory=Count(
            "pk", filter=Q(state__in=DECIDED, closed_at__lte=F("statutory_deadline"))
        ),
        extended=Count("pk", filter=Q(extended_at__isnull=False)),
        extended_in_time=Count("pk", filter=Q(extended_at__lte=F("notice_by"))),
        open_now=Count("pk", filter=Q(state__in=OPEN)),
        # A running suspension stops the clock: such a case is not overdue while it runs.
        overdue_now=Count(
            "pk",
            filter=Q(state__in=OPEN, effective_deadline__lt=now, paused_since__isnull=True),
        ),
        paused_now=Count("pk", filter=Q(paused_since__isnull=False)),
        id_asked=Count("pk", filter=Q(asked=True)),
        id_flagged=Count("pk", filter=Q(asked=True, flagged=True)),
        **{f"state_{s}": Count("pk", filter=Q(state=s)) for s in State.values},
    )
    out.received, out.decided = totals["received"], totals["decided"]
    out.on_time, out.on_time_statutory = totals["on_time"], totals["on_time_statutory"]
    out.extended, out.extended_notified_in_time = totals["extended"], totals["extended_in_time"]
    out.open_now, out.overdue_now = totals["open_now"], totals["overdue_now"]
    out.id_asked, out.id_asked_flagged = totals["id_asked"], totals["id_flagged"]
    out.by_state = {s: totals[f"state_{s}"] for s in State.values if totals[f"state_{s}"]}
    for row in base.values("right", "channel").annotate(n=Count("pk")).order_by():
        out.by_right[row["right"]] = out.by_right.get(row["right"], 0) + row["n"]
        out.by_channel[row["channel"]] = out.by_channel.get(row["channel"], 0) + row["n"]
    out.by_right = dict(sorted(out.by_right.items(), key=lambda item: Right.values.index(item[0])))
    out.by_channel = dict(sorted(out.by_channel.items()))
    out.refusals = {
        row["refusal_ground"]: row["n"]
        for row in base.filter(state=State.REFUSED)
        .values("refusal_ground")
        .annotate(n=Count("pk"))
        .order_by("refusal_ground")
    }
    paused = Suspension.objects.filter(case__in=base).aggregate(
        n=Count("pk"), cases=Count("case", distinct=True)
    )
    # Closed suspensions, and the ones running now (recorded when they end).
    out.suspensions = paused["n"] + totals["paused_now"]
    out.suspended = paused["cases"] + totals["paused_now"]
    # By month of receipt, in the first controller's zone (a report mixes zones only when its
    # controllers do; a day's difference at a month's edge is not worth a query a zone).
    zone = ZoneInfo(controllers[0].time_zone) if controllers else dt.UTC
    months = (
        base.annotate(month=TruncMonth("received_at", tzinfo=zone))
        .values("month")
        .annotate(
            n=Count("pk"),
            decided=Count("pk", filter=Q(state__in=DECIDED)),
            on_time=Count(
                "pk", filter=Q(state__in=DECIDED, closed_at__lte=F("effective_deadline"))
            ),
        )
        .order_by("month")
    )
    out.by_month = [
        (row["month"].strftime("%Y-%m"), row["n"], row["decided"], row["on_time"]) for row in months
    ]
    days = _working_days_to_close(
        base.filter(state__in=DECIDED).values_list("received_at", "closed_at", "controller_id"),
        controllers,
    )
    if days:
        out.median_days = float(statistics.median(days))
        out.p90_days = float(_percentile(days, 90))
    return out


def _percentile(values: list[int], pct: int) -> float:
    ordered = sorted(values)
    rank = max(0, -(-pct * len(ordered) // 100) - 1)  # nearest rank
    return ordered[rank]


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


def _working_days_to_close(
    rows: Iterable[tuple[dt.datetime, dt.datetime, int]], controllers: Sequence[Controller]
) -> list[int]:
    """Each decided request's working days, by its own controller's calendar (its country,
    zone and extra holidays: another controller's never count)."""
    by_id = {c.pk: c for c in controllers}
    pairs: dict[int, list[tuple[dt.date, dt.date]]] = {}
    for received, closed, controller_id in rows:
        zone = ZoneInfo(by_id[controller_id].time_zone)
        pairs.setdefault(controller_id, []).append(
            (received.astimezone(zone).date(), closed.astimezone(zone).date())
        )
    out: list[int] = []
    for controller_id, dates in pairs.items():
        controller = by_id[controller_id]
        first = min(d for d, _e in dates)
        last = max(e for _d, e in dates)
        calendar = _WorkingDays(controller.country, first, last, controller.holiday_dates)
        out += [calendar.between(start, end) for start, end in dates]
    return out


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
