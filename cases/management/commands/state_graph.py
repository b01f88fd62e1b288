from typing import Any

from django.core.management.base import BaseCommand

from cases.graph import mermaid


class Command(BaseCommand):
    help = "Print the request state machine as a Mermaid diagram (embedded in the README)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(mermaid())
