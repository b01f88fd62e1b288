"""Where a controller's declarations fall short of the GDPR, with the article or guideline.

The same findings are printed by ``manage.py lint_policies`` and shown on the controller's admin
page, so an officer sees what the statement gets wrong before a subject runs into it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from legalclock import compute_deadlines

from .models import (
    RIGHT_ARTICLES,
    Controller,
    LegalBasis,
    Offer,
    Right,
    RightDeclaration,
    Verification,
)


class Severity(StrEnum):
    ERROR = "error"  # the statement contradicts the GDPR
    WARNING = "warning"  # likely disproportionate or incomplete
    INFO = "info"  # worth a look


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    reference: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code}: {self.message} ({self.reference})"


# Rights a controller must enable and inform about (Art. 13(2)(b)): Art. 15–18, 20, 21.
# Art. 19 is a notification duty of the controller, not a request a subject makes.
ID_COPY_REFERENCE = (
    "EDPB Guidelines 01/2022 §§73–79; AP fine on DPG Media (EUR 525,000); GBA DOS-2020-05314"
)

# A condition that puts a right under the controller's own interests ("onze eigen rechtmatige
# belangen"): no article of the GDPR lets a controller's own interest limit access, and the
# others only on their own terms.
OWN_INTERESTS = re.compile(
    r"(eigen|onze)\s+(\w+\s+)?(rechtmatig|gerechtvaardigd)e?\s+belang|legitimate\s+interest",
    re.IGNORECASE,
)
OWN_INTERESTS_GROUNDS = {
    Right.ACCESS: gettext_lazy(
        "access is limited only by the rights and freedoms of others (Art. 15(4)) and a "
        "manifestly unfounded or excessive request (Art. 12(5))"
    ),
    Right.ERASURE: gettext_lazy("only the exceptions of Art. 17(3) apply"),
    Right.OBJECTION: gettext_lazy(
        "only compelling legitimate grounds that override the subject's may be shown "
        "(Art. 21(1)), and never against direct marketing (Art. 21(3))"
    ),
}

CORE_RIGHTS = (
    Right.ACCESS,
    Right.RECTIFICATION,
    Right.ERASURE,
    Right.RESTRICTION,
    Right.PORTABILITY,
    Right.OBJECTION,
)


def _promise_exceeds_month(controller: Controller, declaration: RightDeclaration) -> bool:
    """Whether the promise ends after the statutory month for any receipt day of a whole year.

    Compared on real calendars instead of by unit arithmetic, because "30 days" fits in March but
    not in February, and weekends and holidays move both deadlines.
    """
    promise = declaration.promise
    if promise is None:
        return False
    zone = ZoneInfo(controller.time_zone)
    start = dt.datetime(2027, 1, 1, 12, tzinfo=zone)
    return any(
        compute_deadlines(
            start + dt.timedelta(days=offset),
            country=controller.country,
            tz=controller.time_zone,
            declared=promise,
        ).declared_exceeds_statutory
        for offset in range(365)
    )


def lint_controller(controller: Controller) -> list[Finding]:
    findings: list[Finding] = []
    declarations = {d.right: d for d in controller.rights.all()}
    # In the GDPR's order, so findings read the way the regulation does.
    offered = [declarations[r] for r in Right.values if r in declarations]
    offered = [d for d in offered if d.is_offered]

    if not controller.privacy_emails and not controller.postal_address.strip():
        findings.append(
            Finding(
                Severity.ERROR,
                "no-contact-channel",
                _("The statement names no address where requests can be sent."),
                "GDPR Art. 12(2), 13(1)(a)",
            )
        )

    for right in CORE_RIGHTS:
        declaration = declarations.get(right)
        if declaration is None or not declaration.is_offered:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "right-not-declared",
                    _("%(right)s is not declared.") % {"right": Right(right).label},
                    "GDPR Art. 12(2), 13(2)(b)",
                )
            )

    uses_consent = any(
        LegalBasis.CONSENT in category.legal_bases for category in controller.data_categories.all()
    )
    withdraw = declarations.get(Right.WITHDRAW_CONSENT)
    if uses_consent and (withdraw is None or not withdraw.is_offered):
        findings.append(
            Finding(
                Severity.ERROR,
                "withdraw-consent-not-declared",
                _("Data are processed on consent, but withdrawing consent is not declared."),
                "GDPR Art. 7(3), 13(2)(c)",
            )
        )

    if not controller.complaint_right.strip():
        findings.append(
            Finding(
                Severity.ERROR,
                "complaint-not-declared",
                _("The right to complain to %(authority)s is not declared.")
                % {"authority": controller.supervisory_authority.name},
                "GDPR Art. 13(2)(d), 77",
            )
        )

    if not controller.automated_decisions.strip():
        findings.append(
            Finding(
                Severity.INFO,
                "automated-decisions-silent",
                _("The statement says nothing about automated decision-making."),
                "GDPR Art. 13(2)(f)",
            )
        )

    for declaration in offered:
        if declaration.offer == Offer.CONDITIONAL and OWN_INTERESTS.search(declaration.condition):
            access = declaration.right == Right.ACCESS
            findings.append(
                Finding(
                    Severity.ERROR if access else Severity.WARNING,
                    "own-interests-limit-a-right",
                    _(
                        "%(right)s is made subject to the controller's own (legitimate) "
                        "interests. Those are no ground to limit it: %(grounds)s."
                    )
                    % {
                        "right": declaration.get_right_display(),
                        "grounds": OWN_INTERESTS_GROUNDS.get(
                            declaration.right, _("only the GDPR's own conditions apply")
                        ),
                    },
                    f"GDPR {RIGHT_ARTICLES[declaration.right]}",
                )
            )
        if declaration.offer == Offer.CONDITIONAL:
            findings.append(
                Finding(
                    Severity.INFO,
                    "conditional-right",
                    _(
                        "%(right)s is declared with a condition (%(condition)s). Only the "
                        "GDPR's own conditions may limit it; check each request against those."
                    )
                    % {
                        "right": declaration.get_right_display(),
                        "condition": declaration.condition,
                    },
                    f"GDPR {RIGHT_ARTICLES[declaration.right]}",
                )
            )
        if _promise_exceeds_month(controller, declaration):
            findings.append(
                Finding(
                    Severity.ERROR,
                    "promise-slower-than-law",
                    _(
                        "The promise for %(right)s (%(amount)s %(unit)s) can end after the "
                        "statutory month; the statutory limit applies."
                    )
                    % {
                        "right": declaration.get_right_display(),
                        "amount": declaration.promise_amount,
                        "unit": declaration.get_promise_unit_display(),
                    },
                    "GDPR Art. 12(3)",
                )
            )

    id_rights = [d for d in offered if d.verification == Verification.ID_DOCUMENT]
    if id_rights and len(id_rights) == len(offered):
        findings.append(
            Finding(
                Severity.WARNING,
                "id-copy-for-every-request",
                _(
                    "A copy of an ID document is demanded for every request. This is generally "
                    "disproportionate: verify with what the controller already has."
                ),
                ID_COPY_REFERENCE,
            )
        )
    elif id_rights:
        findings.append(
            Finding(
                Severity.WARNING,
                "id-copy-demanded",
                _(
                    "A copy of an ID document is demanded for: %(rights)s. This is generally "
                    "disproportionate: verify with what the controller already has."
                )
                % {"rights": ", ".join(str(d.get_right_display()) for d in id_rights)},
                ID_COPY_REFERENCE,
            )
        )
    findings.extend(_routine_pauses(offered))
    # The worst first: an officer reads from the top.
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda finding: order[finding.severity])


PAUSE_REFERENCE = "GDPR Art. 12(3), 12(6); EDPB Guidelines 01/2022 §159"


def _routine_pauses(offered: list[RightDeclaration]) -> list[Finding]:
    """A rule that would pause every request: an ID copy demanded of every subject of a right,
    with the clock declared to pause while the controller waits. The clock may stand still
    only for reasonable doubt about identity or to clarify an unclear request (EDPB 01/2022
    §159); a demand made of everyone is neither, so every such request would be paused from
    its receipt. The product lets the clock run (``Case.ask_identity``); the rule is wrong."""
    rights = [d for d in offered if d.needs_id_document and d.clock_pauses]
    if not rights:
        return []
    return [
        Finding(
            Severity.ERROR,
            "routine-wait-pauses-clock",
            _(
                "An ID copy is demanded of every subject for %(rights)s, and the clock is "
                "declared to pause while it is awaited: every such request would be paused. "
                "A demand made of everyone is no reasonable doubt about identity; the clock "
                "runs while the copy is awaited."
            )
            % {"rights": ", ".join(str(d.get_right_display()) for d in rights)},
            PAUSE_REFERENCE,
        )
    ]
