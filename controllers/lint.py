"""Where a controller's declarations fall short of the GDPR, with the article or guideline.

The same findings are printed by ``manage.py lint_policies`` and shown on the controller's admin
page, so an officer sees what the statement gets wrong before a subject runs into it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
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
    Tristate,
    Verification,
)
from .policy import policy_data
from .statements import read_statement, unfaithful_quotes


class Severity(StrEnum):
    ERROR = "error"  # the statement contradicts the GDPR
    WARNING = "warning"  # likely disproportionate or incomplete
    INFO = "info"  # worth a look


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # the rule
    message: str
    reference: str  # the article or guideline
    # The statement's (or the policy's) words the finding is about, where it is about words.
    quote: str = ""
    # The controller's slug, so that a finding read on its own names whom it is about.
    controller: str = ""

    def __str__(self) -> str:
        quoted = f' "{self.quote}"' if self.quote else ""
        who = f"{self.controller}: " if self.controller else ""
        return f"{who}[{self.severity}] {self.code}: {self.message}{quoted} ({self.reference})"


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

# Consent claimed from the mere use or visit of a site or service ("Door middel van het
# bezoeken van ... geeft u toestemming", "Wanneer u gebruikmaakt van de diensten ..., geeft u
# toestemming"): consent is a clear affirmative act (Art. 4(11), 7; recital 32: "Silence,
# pre-ticked boxes or inactivity should not therefore constitute consent"). A sentence of the
# statement is flagged when it both says the subject gives consent and ties it to a visit or use.
GIVES_CONSENT = re.compile(
    r"\b(geeft|geef|geef\s+je|verleent)\s+(u|je|jij)?\s*(uw\s+|jouw\s+)?toestemming"
    r"|\bstemt\s+u\s+in\b|\byou\s+(hereby\s+)?(give\s+(your\s+)?)?consent\b",
    re.IGNORECASE,
)
# The subject's use or visit as the act ("Door middel van het bezoeken van", "Wanneer u
# gebruikmaakt van", "als u onze website bezoekt", "by using"), not the use of the data a
# consent is for ("geeft u toestemming voor het gebruik van uw gegevens").
BY_USE_OR_VISIT = re.compile(
    r"\b(door|wanneer|als|indien|bij)\s+(middel\s+van\s+)?(\w+\s+){0,3}(bezoek\w*|gebruik\w*)"
    r"|\bby\s+(using|visiting|accessing)\b|\b(if|when)\s+you\s+(use|visit|access)\b",
    re.IGNORECASE,
)
# A clause giving the courts of one place exclusive jurisdiction ("De rechtbanken van Gent zijn
# exclusief bevoegd"): Art. 79(2) lets the subject sue in the member state of their habitual
# residence, which no clause of the controller can take away.
EXCLUSIVE_COURT = re.compile(
    r"(exclusief|uitsluitend|bij\s+uitsluiting)\s+bevoegd|exclusive(ly)?\s+(competent|jurisdiction)",
    re.IGNORECASE,
)
# Retention told only as "as long as necessary" ("zolang dat nodig is", "niet langer dan
# (strikt) nodig"), with no period: Art. 13(2)(a) asks for the period or the criteria for it.
AS_LONG_AS_NEEDED = re.compile(
    r"zolang\s+(dat|dit|als|het)?\s*(\w+\s+)?nodig"
    r"|niet\s+langer\s+(dan|bewaard\s+dan)\s+(\w+\s+)?nodig"
    r"|as\s+long\s+as\s+(is\s+|it\s+is\s+)?(necessary|needed)",
    re.IGNORECASE,
)

# A recipient the statement says only *may* be outside the EEA ("die mogelijk in andere
# rechtsgebieden ... zijn gevestigd", "Het kan zijn dat verwerkers buiten de EER zijn
# gevestigd"): one rule for every file, its outside_eea is "unknown" (policies README).
POSSIBLY = re.compile(r"\bmogelijk\b|\bhet\s+kan\s+zijn\b|\bmay\s+be\b|\bpossibly\b", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    """The sentences of a text with its white space collapsed (the extraction's line breaks are
    noise, but a blank line ends a heading or paragraph). A sentence ends at . ; ! ? followed
    by a space, so a URL's dots do not end one."""
    found = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        flat = re.sub(r"\s+", " ", paragraph).strip()
        found += [part.strip() for part in re.split(r"(?<=[.;!?])\s+", flat) if part.strip()]
    return found


def _sentence_with(text: str, pattern: re.Pattern[str]) -> str:
    for sentence in _sentences(text):
        if pattern.search(sentence):
            return sentence
    return ""


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


def _statement_findings(controller: Controller) -> list[Finding]:
    """What the statement's own text gets wrong, read from ``statements/`` (any controller:
    a new one is onboarded by its policy and its statement, never by code)."""
    statement = read_statement(controller.statement_source)
    if statement is None:
        return [
            Finding(
                Severity.INFO,
                "statement-not-kept",
                _(
                    "The statement %(source)s is not kept in controllers/policies/statements/: "
                    "its words cannot be checked."
                )
                % {"source": controller.statement_source or "-"},
                "GDPR Art. 5(2), 12(1)",
            )
        ]
    findings: list[Finding] = []
    for sentence in _sentences(statement):
        if GIVES_CONSENT.search(sentence) and BY_USE_OR_VISIT.search(sentence):
            findings.append(
                Finding(
                    Severity.ERROR,
                    "consent-by-use",
                    _(
                        "The statement takes the use or a visit of its site or service as "
                        "consent. Consent is a clear affirmative act; use or silence is none, "
                        "so no processing can rest on it."
                    ),
                    "GDPR Art. 4(11), 7; recital 32",
                    quote=sentence,
                )
            )
        if EXCLUSIVE_COURT.search(sentence):
            findings.append(
                Finding(
                    Severity.ERROR,
                    "exclusive-court",
                    _(
                        "The statement gives one court exclusive jurisdiction. The subject may "
                        "always bring proceedings in the member state of their habitual "
                        "residence."
                    ),
                    "GDPR Art. 79(2)",
                    quote=sentence,
                )
            )
    for quote, problem in unfaithful_quotes(policy_data(controller), statement):
        findings.append(
            Finding(
                Severity.WARNING,
                "quote-not-faithful",
                _("%(key)s is not the statement's own words, whole (%(problem)s).")
                % {"key": quote.key, "problem": problem},
                "GDPR Art. 12(1), 13",
                quote=quote.text,
            )
        )
    return findings


def lint_controller(controller: Controller) -> list[Finding]:
    findings: list[Finding] = _statement_findings(controller)
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

    for category in controller.data_categories.all():
        if category.retention_amount is None and AS_LONG_AS_NEEDED.search(category.retention):
            findings.append(
                Finding(
                    Severity.WARNING,
                    "retention-without-criteria",
                    _(
                        'The retention of %(category)s is only "as long as necessary": '
                        "the statement must give the period, or the criteria that decide it."
                    )
                    % {"category": category.name},
                    "GDPR Art. 13(2)(a), 14(2)(a), 15(1)(d)",
                    quote=_sentence_with(category.retention, AS_LONG_AS_NEEDED),
                )
            )

    for recipient in controller.recipients.all():
        words = f"{recipient.purpose}\n\n{recipient.safeguards}"
        if recipient.outside_eea != Tristate.UNKNOWN and POSSIBLY.search(words):
            findings.append(
                Finding(
                    Severity.WARNING,
                    "possible-transfer-as-certain",
                    _(
                        "Whether %(recipient)s is outside the EEA is declared as "
                        '"%(where)s", but the statement only says it may be: declare it '
                        "unknown, and confirm its location and safeguard before an access "
                        "answer names it."
                    )
                    % {
                        "recipient": recipient.name,
                        "where": recipient.get_outside_eea_display(),
                    },
                    "GDPR Art. 13(1)(f), 15(2)",
                    quote=_sentence_with(words, POSSIBLY),
                )
            )

    # Stopping direct marketing and withdrawing consent must be as easy as saying yes was
    # (Art. 7(3), 21(3)): an ID copy for either is not "likely disproportionate" but an error.
    withdraw_declared = declarations.get(Right.WITHDRAW_CONSENT)
    if withdraw_declared is not None and withdraw_declared.needs_id_document:
        findings.append(
            Finding(
                Severity.ERROR,
                "id-copy-to-stop",
                _(
                    "A copy of an ID document is demanded for withdrawing consent. Withdrawing "
                    "must be as easy as giving consent, which asked for none."
                ),
                "GDPR Art. 7(3), 12(2); " + ID_COPY_REFERENCE,
                quote=withdraw_declared.verification_quote,
            )
        )
    objection = declarations.get(Right.OBJECTION)
    if objection is not None and objection.is_offered:
        marketing = objection.marketing_verification or objection.verification
        if marketing == Verification.ID_DOCUMENT:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "id-copy-to-stop",
                    _(
                        "A copy of an ID document is demanded for objecting to direct "
                        "marketing. That objection is absolute and needs no more than the "
                        "address the marketing goes to."
                    ),
                    "GDPR Art. 21(2)-(3), 12(2); " + ID_COPY_REFERENCE,
                    quote=objection.marketing_verification_quote or objection.verification_quote,
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
    # The worst first: an officer reads from the top. Each finding names its controller.
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    named = [replace(finding, controller=controller.slug) for finding in findings]
    return sorted(named, key=lambda finding: order[finding.severity])


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
