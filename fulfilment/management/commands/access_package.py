import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cases.audit import Actor, note
from cases.models import Case
from fulfilment.models import PackageStatus
from fulfilment.searches.package import open_package, package_of
from fulfilment.systems.vault import VaultError


class Command(BaseCommand):
    help = (
        "Write the data package of a request to a file, exactly as the subject downloads it "
        "(e.g. to send it by another channel). Only a released package; the export is recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference")
        parser.add_argument("-o", "--output", required=True, metavar="FILE.zip")

    def handle(self, *args: Any, reference: str, output: str, **options: Any) -> None:
        case = Case.objects.filter(reference=reference.strip().upper()).first()
        if case is None:
            raise CommandError(f"no request {reference!r}")
        package = package_of(case)
        if package is None or package.status != PackageStatus.RELEASED:
            state = package.get_status_display() if package else "none"
            raise CommandError(f"{case.reference}: no released package (package: {state})")
        target = Path(output)
        if target.exists():
            raise CommandError(f"{target} exists: choose another file")
        digest = hashlib.sha256()
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("xb") as handle:
                for chunk in open_package(package):
                    digest.update(chunk)
                    handle.write(chunk)
        except (OSError, VaultError) as error:
            partial.unlink(missing_ok=True)
            raise CommandError(f"could not write the package: {error}") from None
        partial.rename(target)
        note(
            case,
            actor=Actor.system(),
            action="package_exported",
            at=timezone.now(),
            data={"file": target.name, "sha256": digest.hexdigest()},
        )
        self.stdout.write(f"{case.reference}: {target} ({target.stat().st_size} bytes)")
