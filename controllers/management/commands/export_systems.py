from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controllers.models import Controller
from controllers.systems import dump_systems


class Command(BaseCommand):
    help = "Write a controller's systems in the systems-file format (to stdout or --output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--output", "-o", help="file to write instead of stdout")

    def handle(self, *args: Any, slug: str, output: str | None, **options: Any) -> None:
        controller = Controller.objects.filter(slug=slug).first()
        if controller is None:
            known = ", ".join(Controller.objects.values_list("slug", flat=True)) or "none loaded"
            raise CommandError(f"no controller {slug!r} (known: {known})")
        text = dump_systems(controller)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")
