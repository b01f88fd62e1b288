"""Who takes a step: the subject (no account), an officer (a user), or the system (Celery)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ActorKind = Literal["subject", "officer", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user: Any = field(default=None)  # the officer's user; None for the subject and the system

    @property
    def label(self) -> str:
        """How the audit trail names the actor (kept if the user is later deleted)."""
        if self.kind == "officer" and self.user is not None:
            return self.user.get_username()
        return self.kind

    @classmethod
    def subject(cls) -> Actor:
        return cls("subject")

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def officer(cls, user: Any) -> Actor:
        return cls("officer", user)
