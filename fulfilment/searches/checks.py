"""When an access or portability request's steps wait for its searches (``step_checking``):
no "nothing held" where the systems are searched, no response until every search has settled
and the access letter has what it needs, no sending until the package is built."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cases.models import Case
from controllers.models import Right

from ..models import PackageStatus
from ..systems.checks import all_settled, answered_by_systems
from . import letter
from .package import package_of


def check(case: Case, step: str) -> None:
    """Raise ValidationError if ``step`` must wait; call for a data right's case only."""
    if step == "answer_no_data" and (case.searches.exists() or case.controller.systems.exists()):
        raise answered_by_systems()
    # A case without searches (its controller declared no systems when its identity was
    # settled) is answered by text alone, as before fulfilment existed.
    if not case.searches.exists():
        return
    if step == "prepare_response":
        all_settled(
            case.searches.all(),
            _(
                "Not every system has been searched: %(systems)s. Wait for it, try it "
                "again, answer it by hand, or skip it with a reason."
            ),
        )
        if case.right == Right.ACCESS and (missing := letter.gaps(case)):
            # Silence is never the answer (letter.py): the letter waits for the officer.
            raise ValidationError(
                _(
                    "The access letter needs items that neither the privacy statement nor the "
                    "registry gives: %(items)s. Supply them (Letter items, in the search panel), "
                    "then prepare the response."
                )
                % {"items": "; ".join(gap.what for gap in missing)}
            )
    if step == "complete":
        package = package_of(case)
        if package is None or package.status == PackageStatus.BUILDING:
            raise ValidationError(_("The data package is still being built."))
        if package.status != PackageStatus.READY:
            raise ValidationError(
                _("The data package could not be built: %(error)s. Reopen and prepare again.")
                % {"error": package.error or package.get_status_display()}
            )
