"""``manage.py case_report REF -o FILE.pdf`` — one case's report; or
``manage.py case_report --controller SLUG [--from DATE --to DATE] --out-dir DIR`` — one PDF per
request received in the period (by reference), for an operator or an auditor's archive."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.models import Case
from controllers.models import Controller
from reports.case_report import LANGUAGES, render


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Write the auditor's PDF case report of one request, or of a controller's requests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", nargs="?", help="a request's reference")
        parser.add_argument("-o", "--output", help="the PDF to write (with a reference)")
        parser.add_argument("--controller", metavar="SLUG")
        parser.add_argument("--from", dest="start", metavar="DATE", help="received on or after")
        parser.add_argument("--to", dest="end", metavar="DATE", help="received on or before")
        parser.add_argument("--out-dir", metavar="DIR", help="one PDF per request, named by it")
        parser.add_argument("--language", choices=LANGUAGES, default="en")

    def handle(self, *args: Any, **options: Any) -> None:
        language = options["language"]
        if options["reference"]:
            if not options["output"] or options["controller"] or options["out_dir"]:
                raise CommandError("with a reference, give -o FILE.pdf (and no --controller)")
            case = Case.objects.filter(reference=options["reference"]).first()
            if case is None:
                raise CommandError(f"no request {options['reference']!r}")
            Path(options["output"]).write_bytes(render(case, language=language))
            self.stdout.write(f"{case.reference}: {options['output']}")
            return
        if not options["controller"] or not options["out_dir"]:
            raise CommandError("give a reference and -o, or --controller SLUG and --out-dir DIR")
        controller = Controller.objects.filter(slug=options["controller"]).first()
        if controller is None:
            raise CommandError(f"no controller {options['controller']!r}")
        zone = ZoneInfo(controller.time_zone)
        cases = Case.objects.filter(controller=controller).order_by("reference")
        if options["start"]:
            start = dt.datetime.combine(_date(options["start"]), dt.time(), tzinfo=zone)
            cases = cases.filter(received_at__gte=start)
        if options["end"]:
            end = dt.datetime.combine(
                _date(options["end"]) + dt.timedelta(days=1), dt.time(), tzinfo=zone
            )
            cases = cases.filter(received_at__lt=end)
        folder = Path(options["out_dir"])
        folder.mkdir(parents=True, exist_ok=True)
        count = 0
        for case in cases.iterator():
            (folder / f"{case.reference}.pdf").write_bytes(render(case, language=language))
            count += 1
        self.stdout.write(f"{count} report(s) in {folder}")
