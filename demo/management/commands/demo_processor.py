from argparse import ArgumentTypeError
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.processor import Processor, datasets, serve


def port_number(text: str) -> int:
    """A TCP port, refused by argparse with its usage line rather than by bind() with a trace."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


class Command(BaseCommand):
    help = "Serve the demo's stub processor (the HTTP systems of the demo). Demo only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=port_number, default=settings.DEMO_PROCESSOR_PORT)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        if not settings.DEMO:
            raise CommandError("the stub processor is part of the demo only")
        folder = Path(settings.VAR_DIR) / "systems"
        folder.mkdir(parents=True, exist_ok=True)
        found = datasets(folder)
        app = Processor(found, folder / "processor-requests.sqlite3", settings.DEMO_PROCESSOR_URL)
        server = serve(app, "127.0.0.1", port)
        self.stdout.write(f"stub processor on {settings.DEMO_PROCESSOR_URL}: {', '.join(found)}")
        self.stdout.flush()  # honcho reads a pipe: without it the line waits in the buffer
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
