from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dsar.inbound import ingest


class Command(BaseCommand):
    help = "Process .eml files fetched elsewhere, as the inbound webhook would (each once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args: Any, files: list[Path], **options: Any) -> None:
        for path in files:
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"{path}: cannot read: {exc.strerror or exc}") from None
            if not raw.strip():
                raise CommandError(f"{path}: empty file")
            record = ingest(raw)
            if record is None:
                self.stdout.write(f"{path}: seen before, skipped")
            else:
                reference = record.request.reference if record.request else "-"
                self.stdout.write(f"{path}: {record.outcome} {reference}")
