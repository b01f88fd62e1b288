from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controllers.policy import PolicyError, load_policy_files, policy_files


class Command(BaseCommand):
    help = (
        "Validate and upsert controller policy files in one transaction "
        "(all files in controllers/policies/ by default). A bad file changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help="policy files (.toml)")

    def handle(self, *args: Any, paths: list[Path], **options: Any) -> None:
        paths = paths or policy_files(Path(settings.POLICY_DIR))
        if not paths:
            raise CommandError(f"no policy files in {settings.POLICY_DIR}")
        try:
            controllers = load_policy_files(paths)
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
        for controller in controllers:
            self.stdout.write(f"loaded {controller.slug}: {controller.legal_name}")
