"""``manage.py compliance_report --from DATE --to DATE [--controller SLUG ...] -o FILE.pdf
[--csv FILE] [--log FILE]`` — the compliance report of the requests received in a period (all
controllers unless named), its figures as CSV and the request log as CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controllers.models import Controller
from reports import compliance
from reports.case_report import LANGUAGES


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Write the compliance report (PDF) of a period, with its figures and log as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, metavar="DATE")
        parser.add_argument("--to", dest="end", required=True, metavar="DATE")
        parser.add_argument("--controller", action="append", default=[], metavar="SLUG")
        parser.add_argument("-o", "--output", required=True, metavar="FILE.pdf")
        parser.add_argument("--csv", metavar="FILE", help="the figures as CSV")
        parser.add_argument("--log", metavar="FILE", help="the request log as CSV")
        parser.add_argument("--language", choices=LANGUAGES, default="en")

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _date(options["start"]), _date(options["end"])
        if start > end:
            raise CommandError("--to comes before --from")
        controllers = list(Controller.objects.order_by("legal_name"))
        if options["controller"]:
            known = {c.slug: c for c in controllers}
            missing = [slug for slug in options["controller"] if slug not in known]
            if missing:
                raise CommandError(f"no controller {missing[0]!r}")
            controllers = [known[slug] for slug in options["controller"]]
        language = options["language"]
        data = compliance.figures(controllers, start, end)
        Path(options["output"]).write_bytes(compliance.render(data, language=language))
        if options["csv"]:
            Path(options["csv"]).write_text(compliance.figures_csv(data, language))
        if options["log"]:
            with Path(options["log"]).open("w") as log:
                log.writelines(compliance.request_log(controllers, start, end, language))
        self.stdout.write(f"{data.received} requests; {options['output']}")
