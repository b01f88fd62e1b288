import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cases.audit import Head, compare_heads, heads, missing_references, verify_all


class Command(BaseCommand):
    help = (
        "Check every request's audit chain and name the first broken link of each; report "
        "references that belong to no request (a deleted case). With --against, also compare "
        "with heads saved earlier; with --save-heads, save today's heads (after the check)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--save-heads",
            type=Path,
            metavar="FILE",
            help="write every chain's head (reference, count, last hash) as JSON to FILE; keep "
            "it where the database's administrators cannot write (it proves a later truncation)",
        )
        parser.add_argument(
            "--against",
            type=Path,
            metavar="FILE",
            help="a file written by --save-heads: every chain must still hold its saved head",
        )

    def handle(self, *args: Any, save_heads: Path | None, against: Path | None, **options: Any):
        saved = self._read_heads(against) if against else []  # a bad file stops before any check
        checked = broken = 0
        for _case, problem in verify_all():
            checked += 1
            if problem is not None:
                broken += 1
                self.stderr.write(f"BROKEN {problem}")
        for reference in missing_references():
            broken += 1
            self.stderr.write(f"BROKEN {reference}: no such request, but its number was given out")
        for problem in compare_heads(saved):
            broken += 1
            self.stderr.write(f"BROKEN {problem}")
        if save_heads:
            document = {
                "saved_at": timezone.now().isoformat(),
                "heads": [asdict(head) for head in heads()],
            }
            try:
                save_heads.write_text(json.dumps(document, indent=1) + "\n")
            except OSError as error:
                raise CommandError(f"{save_heads}: cannot write: {error.strerror}") from None
            self.stdout.write(f"{len(document['heads'])} heads saved to {save_heads}")
        if broken:
            raise CommandError(
                f"{broken} fault(s) found; {checked} audit chains checked", returncode=1
            )
        self.stdout.write(f"{checked} audit chains intact")

    def _read_heads(self, path: Path) -> list[Head]:
        try:
            document = json.loads(path.read_text())
            return [
                Head(str(item["reference"]), int(item["count"]), str(item["last"]))
                for item in document["heads"]
            ]
        except OSError as error:
            raise CommandError(f"{path}: cannot read: {error.strerror}") from None
        except (ValueError, KeyError, TypeError) as error:
            raise CommandError(
                f"{path}: not a file written by --save-heads ({error.__class__.__name__}: {error})"
            ) from None
