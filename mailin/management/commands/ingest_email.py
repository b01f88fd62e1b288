from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailin.ingest import ingest


class Command(BaseCommand):
    help = (
        "Process .eml files fetched elsewhere, as the inbound webhook would (each message once). "
        "Each file is processed or refused on its own; the exit status is 1 if any was not."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args: Any, files: list[Path], **options: Any) -> None:
        problems = 0
        for path in files:
            try:
                raw = path.read_bytes()
            except OSError as exc:
                self.stderr.write(f"{path}: cannot read: {exc.strerror or exc}")
                problems += 1
                continue
            if not raw.strip():
                self.stderr.write(f"{path}: empty file")
                problems += 1
                continue
            record = ingest(raw)
            if record is None:
                self.stdout.write(f"{path}: seen before, skipped")
                continue
            reference = record.case.reference if record.case else "-"
            line = f"{path}: {record.outcome} {reference}"
            if record.outcome in ("rejected", "failed"):
                self.stderr.write(f"{line}: {record.problem}")
                problems += 1
            else:
                self.stdout.write(line)
        if problems:
            raise CommandError(f"{problems} of {len(files)} file(s) not processed")
