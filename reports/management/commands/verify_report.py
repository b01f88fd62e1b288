"""``manage.py verify_report FILE.pdf ... [--against-database]`` — verify the audit chain a case
report carries (its embedded events.json) with this installation's audit key: proof from the
PDF alone that the events it lists are those that were recorded for that case, and that the
policy file it carries (policy.toml) is the one whose hash the request recorded at receipt.

The embedded events prove themselves, not the pages beside them: a PDF whose pages were edited
but whose attachment was kept still verifies. ``--against-database`` proves the pages too:
reports are reproducible, so the case is rendered again and must give the same bytes (in the
report's language). Exits 1 if any report does not verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.models import Case
from reports.case_report import LANGUAGES, embedded_events, render, verify_embedded


class Command(BaseCommand):
    help = "Verify the audit chain embedded in case report PDFs, with the audit key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE.pdf")
        parser.add_argument(
            "--against-database",
            action="store_true",
            help="also render each case again and compare the bytes (proves the pages)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        failed = 0
        for name in options["files"]:
            try:
                failed += not self._one(name, options["against_database"])
            except (OSError, ValueError) as error:
                self.stderr.write(f"{name}: not a case report ({error})")
                failed += 1
        if failed:
            raise CommandError(f"{failed} report(s) did not verify", returncode=1)

    def _one(self, name: str, against_database: bool) -> bool:
        pdf = Path(name).read_bytes()
        problems = verify_embedded(pdf)
        document = embedded_events(pdf)
        # The case as the hashed events name it (the reference beside them is not hashed).
        case_id = document.get("case_id") if isinstance(document, dict) else None
        label = f"case #{case_id}" if isinstance(case_id, int) else "an unknown case"
        if against_database and not problems:
            case = Case.objects.filter(pk=case_id).first()
            if case is None:
                problems.append("the database has no such case")
            elif not any(render(case, language=lang) == pdf for lang in LANGUAGES):
                problems.append(
                    f"the pages differ from what the database renders for {case.reference}"
                )
            else:
                label = case.reference
        if problems:
            self.stdout.write(f"{name}: {label}: DOES NOT VERIFY")
            for problem in problems:
                self.stdout.write(f"  {problem}")
            return False
        head = document["head"]
        scope = "events and pages" if against_database else "embedded events only"
        self.stdout.write(
            f"{name}: {label}: verifies ({scope}; {head['count']} events, head {head['hash']})"
        )
        return True
