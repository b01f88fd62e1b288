from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controllers.lint import Severity, lint_controller
from controllers.models import Controller

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Command(BaseCommand):
    help = "Report each declaration that falls short of the GDPR, with the article or guideline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="controllers to check (all by default)")
        parser.add_argument(
            "--fail-on",
            choices=[s.value for s in Severity],
            help="exit with status 1 when a finding of this severity or worse is reported",
        )

    def handle(self, *args: Any, slugs: list[str], fail_on: str | None, **options: Any) -> None:
        controllers = Controller.objects.select_related("supervisory_authority").prefetch_related(
            "rights", "data_categories", "recipients"
        )
        if slugs:
            controllers = controllers.filter(slug__in=slugs)
            missing = set(slugs) - {c.slug for c in controllers}
            if missing:
                raise CommandError(f"unknown controller(s): {', '.join(sorted(missing))}")
        worst = -1
        for controller in controllers:
            findings = lint_controller(controller)
            self.stdout.write(f"{controller.slug}: {len(findings)} finding(s)")
            for finding in findings:
                self.stdout.write(f"  {finding}")
                worst = max(worst, _RANK[finding.severity])
        if fail_on is not None and worst >= _RANK[Severity(fail_on)]:
            raise CommandError("findings at or above --fail-on", returncode=1)
