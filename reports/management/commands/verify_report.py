"""``manage.py verify_report FILE.pdf ...`` — verify the audit chain a case report carries
(its embedded events.json) with this installation's audit key: proof from the PDF alone that
the events it lists are those that were recorded. Exits 1 if any report does not verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reports.case_report import embedded_events, verify_embedded


class Command(BaseCommand):
    help = "Verify the audit chain embedded in case report PDFs, with the audit key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE.pdf")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = 0
        for name in options["files"]:
            try:
                pdf = Path(name).read_bytes()
                document = embedded_events(pdf)
                problems = verify_embedded(pdf)
            except (OSError, ValueError, KeyError) as error:
                self.stderr.write(f"{name}: not a case report ({error})")
                failed += 1
                continue
            if problems:
                failed += 1
                self.stdout.write(f"{name}: {document['reference']}: DOES NOT VERIFY")
                for problem in problems:
                    self.stdout.write(f"  {problem}")
            else:
                head = document["head"]
                self.stdout.write(
                    f"{name}: {document['reference']}: verifies ({head['count']} events, "
                    f"head {head['hash']})"
                )
        if failed:
            raise CommandError(f"{failed} report(s) did not verify", returncode=1)
