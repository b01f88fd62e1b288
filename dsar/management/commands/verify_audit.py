from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dsar.audit import verify_all


class Command(BaseCommand):
    help = "Check every request's audit chain; name the first broken link of each broken chain."

    def handle(self, *args: Any, **options: Any) -> None:
        checked = broken = 0
        for _request, problem in verify_all():
            checked += 1
            if problem is not None:
                broken += 1
                self.stderr.write(f"BROKEN {problem}")
        if broken:
            raise CommandError(f"{broken} of {checked} audit chains are broken", returncode=1)
        self.stdout.write(f"{checked} audit chains intact")
