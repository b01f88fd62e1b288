import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controllers.models import Controller, Right
from legalclock import COUNTRY_TIME_ZONES, Period, Unit, period_end


class Command(BaseCommand):
    help = (
        "Compute a legal deadline. With --country: the end of one period (one month by default), "
        "printed last as ISO 8601. With --controller and --right: the request's deadlines as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--country", choices=sorted(COUNTRY_TIME_ZONES))
        who.add_argument("--controller", metavar="SLUG")
        parser.add_argument("--right", choices=Right.values, default=Right.ACCESS)
        parser.add_argument(
            "--received",
            required=True,
            help="ISO datetime; without an offset it is local time in the country's zone",
        )
        period = parser.add_mutually_exclusive_group()
        for unit in Unit:
            period.add_argument(f"--{unit.value}", type=int, metavar="N")
        parser.add_argument("--paused-days", type=int, default=0, metavar="N")
        parser.add_argument(
            "--extended", action="store_true", help="the period was extended (Art. 12(3))"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["controller"]:
            self._controller(options)
        else:
            self._country(options)

    @staticmethod
    def _received(raw: str, zone: str) -> dt.datetime:
        try:
            received = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise CommandError(f"--received {raw!r} is not an ISO 8601 datetime") from None
        if received.tzinfo is None:
            received = received.replace(tzinfo=ZoneInfo(zone))
        return received

    def _country(self, options: dict[str, Any]) -> None:
        country = options["country"]
        received = self._received(options["received"], COUNTRY_TIME_ZONES[country])
        given = [(unit, options[unit.value]) for unit in Unit if options[unit.value] is not None]
        try:
            period = Period(given[0][1], given[0][0]) if given else Period(1, Unit.MONTHS)
            end = period_end(received, period, country=country, paused_days=options["paused_days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(end.isoformat())

    def _controller(self, options: dict[str, Any]) -> None:
        if any(options[unit.value] is not None for unit in Unit):
            raise CommandError("a period option goes with --country; a controller has its own")
        slug = options["controller"]
        try:
            controller = Controller.objects.prefetch_related("rights").get(slug=slug)
        except Controller.DoesNotExist:
            raise CommandError(f"no controller {slug!r}") from None
        right = options["right"]
        declaration = controller.declaration(right)
        # Notes go to stderr: stdout is the JSON alone, for whoever parses it.
        if declaration is None or not declaration.is_offered:
            # The law applies whether or not the statement declares the right.
            self.stderr.write(f"note: {slug} does not declare {right}; statutory only")
        if options["paused_days"] and declaration is not None and not declaration.pauses_clock:
            self.stderr.write(f"note: {slug}'s clock does not pause for {right}; no days added")
        received = self._received(options["received"], controller.time_zone)
        try:
            deadlines = controller.deadlines(
                right, received, paused_days=options["paused_days"], extended=options["extended"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if deadlines.declared_exceeds_statutory:
            self.stderr.write("note: the declared promise is longer than the law allows")
        result = {
            key: (value.isoformat() if value is not None else None)
            for key, value in (
                ("declared", deadlines.declared),
                ("statutory", deadlines.statutory),
                ("extended", deadlines.extended),
                ("notice_by", deadlines.notice_by),
                ("effective", deadlines.effective),
            )
        }
        self.stdout.write(json.dumps(result))
