from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controllers.policy import PolicyError
from controllers.systems import against_systems, load_systems_files, systems_files


class Command(BaseCommand):
    help = (
        "Validate the controllers' systems files against their policies and load them in one "
        "transaction (all files in controllers/systems/ by default). A bad file changes nothing. "
        "Each SQL system that can be reached is checked first: a declared table or column the "
        "database lacks refuses the file; an identity column without an index is a warning."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help="systems files (.toml)")
        parser.add_argument(
            "--no-check",
            action="store_true",
            help="do not connect to the systems (no table, column or index is checked)",
        )

    def handle(self, *args: Any, paths: list[Path], no_check: bool, **options: Any) -> None:
        paths = paths or systems_files(Path(settings.SYSTEMS_DIR))
        if not paths:
            raise CommandError(f"no systems files in {settings.SYSTEMS_DIR}")
        warnings: list[str] = []
        check = None if no_check else partial(against_systems, warnings=warnings)
        try:
            loaded = load_systems_files(paths, check=check)
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
        for controller, systems in loaded:
            names = ", ".join(f"{s.name} ({s.kind})" for s in systems) or "none"
            self.stdout.write(f"loaded the systems of {controller.slug}: {names}")
        for warning in warnings:
            self.stderr.write(f"warning: {warning}")
