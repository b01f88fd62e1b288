"""A mail backend for fault tests: the first send stalls (so a test can kill the worker in the
middle of it); later sends write each message to a file, so the test can count them."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class StallingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list) -> int:
        folder = Path(os.environ["DSAR_STALL_DIR"])
        marker = folder / "stalled"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(300)  # the test kills the worker here, before anything is handed over
        for message in email_messages:
            (folder / f"sent-{uuid.uuid4().hex}.eml").write_bytes(message.message().as_bytes())
        return len(email_messages)
