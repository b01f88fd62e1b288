"""The demo's mail: Django's file backend, except for addresses under ``.invalid``.

``.invalid`` is reserved (RFC 2606) and can never receive mail; the demo's seeded history uses
it for its past subjects, whose confirmations, notices and answers would otherwise bury the
demo subject's own mail in ``var/mail/``. Such a message counts as sent (as a provider would
accept it and bounce it later), so the outbox behaves the same as with any other address.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.message import EmailMessage


def _deliverable(address: str) -> bool:
    return not address.rstrip(">").strip().lower().endswith(".invalid")


class EmailBackend(FileBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        kept = [m for m in email_messages if any(map(_deliverable, m.recipients()))]
        written = super().send_messages(kept) if kept else 0
        return written + len(email_messages) - len(kept)
