"""Plain-language descriptions of a controller's declarations for the public pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from controllers.models import Controller, MaskField, Offer, Right, RightDeclaration, Verification
from legalclock import Unit

RIGHT_SUMMARIES: dict[str, Promise] = {
    Right.ACCESS: gettext_lazy("Get a copy of the personal data the company holds about you."),
    Right.RECTIFICATION: gettext_lazy("Have wrong or incomplete data about you corrected."),
    Right.ERASURE: gettext_lazy("Have your personal data deleted."),
    Right.RESTRICTION: gettext_lazy(
        "Have the use of your data paused, for example while its accuracy is checked."
    ),
    Right.PORTABILITY: gettext_lazy(
        "Receive the data you provided in a machine-readable file, or have it sent elsewhere."
    ),
    Right.OBJECTION: gettext_lazy(
        "Object to the use of your data, for example for direct marketing."
    ),
    Right.AUTOMATED_DECISIONS: gettext_lazy(
        "Ask for a person to review a decision a computer took about you on its own."
    ),
    Right.WITHDRAW_CONSENT: gettext_lazy(
        "Withdraw a consent you gave earlier, as easily as you gave it."
    ),
}


def promise_text(declaration: RightDeclaration) -> str:
    promise = declaration.promise
    if promise is None:
        return _("Answer within one month at the latest (the legal limit).")
    amount = promise.amount
    unit = {
        Unit.HOURS: ngettext("%(n)d hour", "%(n)d hours", amount),
        Unit.DAYS: ngettext("%(n)d day", "%(n)d days", amount),
        Unit.WEEKS: ngettext("%(n)d week", "%(n)d weeks", amount),
        Unit.MONTHS: ngettext("%(n)d month", "%(n)d months", amount),
    }[promise.unit] % {"n": amount}
    return _("Promises to answer within %(period)s (the legal limit is one month).") % {
        "period": unit
    }


def identity_text(declaration: RightDeclaration | None) -> str:
    if declaration is not None and declaration.needs_id_document:
        text = _("Asks for a copy of an ID document, besides confirming your email address.")
        if not declaration.needs_id_document_for("direct_marketing"):
            text += " " + _("Not for an objection to direct marketing only.")
        return text
    if (
        declaration is not None
        and declaration.is_offered
        and declaration.verification == Verification.MATCH_HELD_DATA
    ):
        return _("Checks your details against data it already holds.")
    return _("You confirm your email address; nothing more is asked.")


@dataclass(frozen=True)
class RightView:
    right: str
    label: str
    summary: str
    declared: bool
    conditional: bool
    condition: str
    promise: str
    identity: str
    needs_id: bool


def rights_of(controller: Controller) -> list[RightView]:
    """Every right, in the GDPR's order: as the statement declares it, or, where it is silent,
    on the law's terms (one month, email confirmation). A statement cannot take a right away."""
    declared = {d.right: d for d in controller.rights.all() if d.is_offered}
    views = []
    for right, label in Right.choices:
        declaration = declared.get(right)
        views.append(
            RightView(
                right=right,
                label=str(label),
                summary=str(RIGHT_SUMMARIES[right]),
                declared=declaration is not None,
                conditional=declaration is not None and declaration.offer == Offer.CONDITIONAL,
                condition=declaration.condition if declaration else "",
                promise=promise_text(declaration)
                if declaration
                else _("Answer within one month at the latest (the legal limit)."),
                identity=identity_text(declaration),
                needs_id=declaration is not None and declaration.needs_id_document,
            )
        )
    return views


def mask_labels(controller: Controller) -> list[str]:
    """What the subject is told to black out on an ID copy, in words."""
    labels = dict(MaskField.choices)
    return [str(labels[value]) for value in controller.fields_to_mask()]


KOPIEID_URL = "https://www.rijksoverheid.nl/onderwerpen/identiteitsfraude/vraag-en-antwoord/veilige-kopie-identiteitsbewijs"


STATE_EXPLANATIONS: dict[str, Promise] = {
    "unconfirmed": gettext_lazy("Waiting for you to confirm your email address."),
    "awaiting_identity": gettext_lazy(
        "The company needs proof of your identity before it can handle your request."
    ),
    "identity_review": gettext_lazy("The company is checking your identity."),
    "in_progress": gettext_lazy("The company is handling your request."),
    "awaiting_subject": gettext_lazy("The company has asked you a question. Please answer below."),
    "ready": gettext_lazy("The company has prepared its answer and is checking it."),
    "completed": gettext_lazy("Your request has been handled."),
    "refused": gettext_lazy("The company has refused your request."),
    "withdrawn": gettext_lazy("You withdrew this request."),
    "expired": gettext_lazy("This request was never confirmed and has expired."),
}
