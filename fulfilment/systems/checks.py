"""What both rooms hold a core step back for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def answered_by_systems() -> ValidationError:
    """Why "no data held" is refused where the controller's systems are searched for the
    right (a data right's searches, a change right's plan): "nothing held" is what they find,
    never the officer's word before they ran (the letter would say "we searched"). The
    searches (or the plan's dry run) say what is held: the answer follows from them, and the
    letter says so when they found nothing (cases.models.grounds)."""
    return ValidationError(
        _(
            "This request is answered from the searches of the systems: prepare the "
            "response; where nothing was found, the answer says so."
        )
    )


def all_settled(jobs: Iterable[Any], refusal: str) -> None:
    """Hold the step back while a search or a change is not settled (done, or skipped with a
    reason): ``refusal`` names the systems that are not, as %(systems)s."""
    if waiting := [job.system_title for job in jobs if not job.settled]:
        raise ValidationError(refusal % {"systems": ", ".join(waiting)})
