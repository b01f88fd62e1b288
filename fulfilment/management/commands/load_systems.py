from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controllers.models import SystemKind
from controllers.policy import PolicyError
from controllers.systems import load_systems_files, spec_of, systems_files
from fulfilment.connectors.sql import index_warnings


class Command(BaseCommand):
    help = (
        "Validate the controllers' systems files against their policies and load them in one "
        "transaction (all files in controllers/systems/ by default). A bad file changes nothing. "
        "Then check, where a system can be reached, that every identity column has an index."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help="systems files (.toml)")
        parser.add_argument(
            "--no-check", action="store_true", help="do not connect to the systems to check indexes"
        )

    def handle(self, *args: Any, paths: list[Path], no_check: bool, **options: Any) -> None:
        paths = paths or systems_files(Path(settings.SYSTEMS_DIR))
        if not paths:
            raise CommandError(f"no systems files in {settings.SYSTEMS_DIR}")
        try:
            loaded = load_systems_files(paths)
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
        for controller, systems in loaded:
            names = ", ".join(f"{s.name} ({s.kind})" for s in systems) or "none"
            self.stdout.write(f"loaded the systems of {controller.slug}: {names}")
        if no_check:
            return
        for controller, systems in loaded:
            for system in systems:
                if system.kind != SystemKind.SQL:
                    continue
                for warning in index_warnings(spec_of(system.spec)):
                    self.stderr.write(f"warning: {controller.slug}/{system.name}: {warning}")
