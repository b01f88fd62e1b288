"""The lawful grounds of a refusal, per right: one table, checked by the workflow (legal.md §4).

``RefusalGround`` names every ground a case may carry. ``REFUSAL_GROUNDS`` says, per right, on
which of them a request may be refused outright; ``PARTIAL_GROUNDS`` on which part of it may be
refused when the rest is answered. ``check_ground`` is what ``Case.refuse`` and ``Case.complete``
run, so the table holds whoever calls ``perform`` (the officer's form, a bulk action, a script).

Decisions, and why:

- Art. 12(5) (manifestly unfounded or excessive) and identity (Art. 11(2), Art. 12(6)) hold for
  every right; for Art. 12(5) the controller bears the burden of showing it, so the evidence is
  recorded with the refusal (``refusal_evidence``), apart from the reasons the subject is told.
- A restriction in national law (Art. 23) is one ground whose wording names the country's
  provision: art. 41 UAVG (NL), the law of 30 July 2018 (BE). Art. 23 covers Arts. 12–22, not
  Art. 7(3): withdrawing consent is refused on identity or Art. 12(5) alone.
- Art. 15(4) (rights and freedoms of others) withholds what concerns others (the table review of
  the searches does so); it never refuses access outright. Sent with the rest of an access or
  portability answer (Art. 20(4)), it is the ground of the part withheld.
- "We hold no data about you" is no refusal: it is the answer (Art. 15(1), first limb), sent
  as a completed response ("No data held", ``Case.answer_no_data``), without a complaint notice.
- An objection to direct marketing is absolute (Art. 21(3)): only identity or Art. 12(5). The
  grounds of Art. 21(1) need the objection recorded as one to processing on Art. 6(1)(e)/(f)
  grounds ("particular situation", ``Case.objection_to``): unrecorded, they are refused.
  **Choice**: nor does Art. 23 reach a direct-marketing objection here: no interest of
  Art. 23(1) needs marketing to go on.
- "Other" and the catch-alls of earlier versions ("the right's condition is not met", "exception
  to erasure" without its letter) are no longer offered nor accepted; cases decided on them
  keep them and still read them (``LEGACY_GROUNDS``): the hash-chained events carry the value,
  so it is never rewritten.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from controllers.models import Right


class RefusalGround(models.TextChoices):
    # Every right.
    UNFOUNDED_OR_EXCESSIVE = (
        "unfounded_or_excessive",
        _("Manifestly unfounded or excessive (Art. 12(5))"),
    )
    CANNOT_IDENTIFY = (
        "cannot_identify",
        _("The controller cannot identify the subject (Art. 11(2))"),
    )
    IDENTITY_NOT_CONFIRMED = "identity_not_confirmed", _("Identity not confirmed (Art. 12(6))")
    # Its wording per country: national_law_label.
    NATIONAL_LAW = "national_law", _("A restriction in national law (Art. 23)")
    # Rectification.
    DATA_ACCURATE = "data_accurate", _("The data are accurate and complete (Art. 16)")
    # Erasure.
    ERASURE_NO_GROUND = (
        "erasure_no_ground",
        _("None of the grounds for erasure applies (Art. 17(1))"),
    )
    ERASURE_EXPRESSION = (
        "erasure_expression",
        _("Needed for freedom of expression and information (Art. 17(3)(a))"),
    )
    ERASURE_LEGAL_OBLIGATION = (
        "erasure_legal_obligation",
        _("Needed for a legal obligation or a task in the public interest (Art. 17(3)(b))"),
    )
    ERASURE_PUBLIC_HEALTH = (
        "erasure_public_health",
        _("Needed for reasons of public interest in public health (Art. 17(3)(c))"),
    )
    ERASURE_ARCHIVING = (
        "erasure_archiving",
        _("Needed for archiving, research or statistics (Art. 17(3)(d))"),
    )
    ERASURE_LEGAL_CLAIMS = (
        "erasure_legal_claims",
        _("Needed for legal claims (Art. 17(3)(e))"),
    )
    # Restriction.
    RESTRICTION_CONDITIONS = (
        "restriction_conditions",
        _("None of the conditions for restriction applies (Art. 18(1)(a)–(d))"),
    )
    # Portability.
    PORTABILITY_NOT_PROVIDED = (
        "portability_not_provided",
        _("Not data the subject provided (Art. 20(1))"),
    )
    PORTABILITY_BASIS = (
        "portability_basis",
        _("Not processed on consent or a contract (Art. 20(1)(a))"),
    )
    PORTABILITY_NOT_AUTOMATED = (
        "portability_not_automated",
        _("Not processed by automated means (Art. 20(1)(b))"),
    )
    # Objection (never to direct marketing).
    OBJECTION_BASIS = (
        "objection_basis",
        _("Not processed for a public task or legitimate interests (Art. 21(1))"),
    )
    COMPELLING_GROUNDS = (
        "compelling_grounds",
        _("Compelling legitimate grounds that override the subject's (Art. 21(1))"),
    )
    OBJECTION_LEGAL_CLAIMS = (
        "objection_legal_claims",
        _("Establishment, exercise or defence of legal claims (Art. 21(1))"),
    )
    # Part of an access or portability answer withheld, never a refusal of it.
    RIGHTS_OF_OTHERS = (
        "rights_of_others",
        _("Rights and freedoms of others (Art. 15(4), 20(4)): part withheld"),
    )
    # Recorded before the grounds were per right: read, never accepted again (LEGACY_GROUNDS).
    NOT_APPLICABLE = "not_applicable", _("The right's condition is not met (earlier ground)")
    ERASURE_EXCEPTION = "erasure_exception", _("Exception to erasure (Art. 17(3)) (earlier ground)")
    OTHER = "other", _("Other (explained in the text) (earlier ground)")


G = RefusalGround
LEGACY_GROUNDS = frozenset({G.NOT_APPLICABLE, G.ERASURE_EXCEPTION, G.OTHER})
IDENTITY_GROUNDS = (G.CANNOT_IDENTIFY, G.IDENTITY_NOT_CONFIRMED)
_EVERY_RIGHT = (G.UNFOUNDED_OR_EXCESSIVE, *IDENTITY_GROUNDS, G.NATIONAL_LAW)
# Art. 21(1): what may answer an objection to processing on Art. 6(1)(e)/(f) grounds.
OBJECTION_GROUNDS = (G.OBJECTION_BASIS, G.COMPELLING_GROUNDS, G.OBJECTION_LEGAL_CLAIMS)

# On which grounds a request for each right may be refused outright, in the order offered.
REFUSAL_GROUNDS: dict[str, tuple[RefusalGround, ...]] = {
    Right.ACCESS: _EVERY_RIGHT,
    Right.RECTIFICATION: (*_EVERY_RIGHT, G.DATA_ACCURATE),
    Right.ERASURE: (
        *_EVERY_RIGHT,
        G.ERASURE_NO_GROUND,
        G.ERASURE_EXPRESSION,
        G.ERASURE_LEGAL_OBLIGATION,
        G.ERASURE_PUBLIC_HEALTH,
        G.ERASURE_ARCHIVING,
        G.ERASURE_LEGAL_CLAIMS,
    ),
    Right.RESTRICTION: (*_EVERY_RIGHT, G.RESTRICTION_CONDITIONS),
    Right.PORTABILITY: (
        *_EVERY_RIGHT,
        G.PORTABILITY_NOT_PROVIDED,
        G.PORTABILITY_BASIS,
        G.PORTABILITY_NOT_AUTOMATED,
    ),
    Right.OBJECTION: (*_EVERY_RIGHT, *OBJECTION_GROUNDS),
    # Art. 23 restrictions in national law reach Arts. 12–21 and 34 as the Netherlands wrote
    # them (art. 41 UAVG), not Art. 22; where a decision falls under Art. 22(2) the answer
    # says so (with the Art. 22(3) safeguards), which is no refusal.
    Right.AUTOMATED_DECISIONS: (G.UNFOUNDED_OR_EXCESSIVE, *IDENTITY_GROUNDS),
    # Art. 7(3): "as easy to withdraw as to give"; Art. 23 does not reach it.
    Right.WITHDRAW_CONSENT: (G.UNFOUNDED_OR_EXCESSIVE, *IDENTITY_GROUNDS),
}

# On which grounds part of a request may be refused while the rest is answered: the right's
# own, less identity (a subject is identified or not, never in part), plus Art. 15(4)/20(4).
PARTIAL_GROUNDS: dict[str, tuple[RefusalGround, ...]] = {
    right: tuple(g for g in grounds if g not in IDENTITY_GROUNDS)
    + ((G.RIGHTS_OF_OTHERS,) if right in (Right.ACCESS, Right.PORTABILITY) else ())
    for right, grounds in REFUSAL_GROUNDS.items()
}


class ObjectionTo(models.TextChoices):
    """What an objection (Art. 21) is to: the subject says so at intake, or the officer
    records it. Direct marketing is absolute (Art. 21(2)–(3)); processing on public-task or
    legitimate-interest grounds gives way only to the controller's Art. 21(1) grounds."""

    DIRECT_MARKETING = "direct_marketing", _("Direct marketing (Art. 21(2))")
    PARTICULAR_SITUATION = (
        "particular_situation",
        _("Other processing, on grounds of the subject's particular situation (Art. 21(1))"),
    )
    BOTH = "both", _("Both direct marketing and other processing")


# What each country's Art. 23 restriction is, as the subject is told it.
NATIONAL_LAW_PROVISIONS = {
    "NL": _("art. 41 Uitvoeringswet Algemene verordening gegevensbescherming (UAVG)"),
    "BE": _(
        "the Belgian law of 30 July 2018 on the protection of natural persons with regard to "
        "the processing of personal data"
    ),
}


def national_law_label(country: str) -> str:
    """The national-law ground in the words the subject reads: the provision of the country."""
    provision = NATIONAL_LAW_PROVISIONS.get(country)
    if provision is None:
        return str(G.NATIONAL_LAW.label)
    return gettext("A restriction in national law: %(provision)s (Art. 23 GDPR)") % {
        "provision": provision
    }


def ground_label(ground: str, country: str = "") -> str:
    """How a recorded ground reads (an earlier, retired value too; an unknown one as stored)."""
    if not ground:
        return ""
    if ground == G.NATIONAL_LAW and country:
        return national_law_label(country)
    return str(dict(RefusalGround.choices).get(ground, ground))


def grounds_for(right: str, *, partial: bool = False) -> tuple[RefusalGround, ...]:
    return (PARTIAL_GROUNDS if partial else REFUSAL_GROUNDS).get(right, ())


def check_ground(
    *,
    right: str,
    ground: str,
    reason: str,
    evidence: str = "",
    objection_to: str = "",
    partial: bool = False,
    country: str = "",
) -> None:
    """ValidationError, naming the right and the ground, unless this is a lawful ground for
    (part of) a request for this right, with its reasons (Art. 12(4)) and, for Art. 12(5),
    the evidence the controller must be able to show."""
    right_label = str(dict(Right.choices).get(right, right))
    if ground not in RefusalGround.values:
        raise ValidationError(gettext("Choose a refusal ground."))
    ground_text = ground_label(ground)
    if ground not in grounds_for(right, partial=partial):
        if ground in LEGACY_GROUNDS:
            message = gettext(
                "%(ground)s is no longer a ground of refusal: choose the ground the law gives "
                "for %(right)s."
            )
        elif ground == G.RIGHTS_OF_OTHERS:
            message = gettext(
                "%(ground)s: that withholds what concerns others from the answer (review the "
                "tables); it is no ground to refuse a request for %(right)s."
            )
        elif partial and ground in IDENTITY_GROUNDS:
            message = gettext(
                "%(ground)s concerns the whole request for %(right)s: refuse it instead."
            )
        else:
            message = gettext("%(ground)s is not a lawful ground to refuse %(right)s.")
        raise ValidationError(message % {"ground": ground_text, "right": right_label})
    if ground == G.NATIONAL_LAW and country not in NATIONAL_LAW_PROVISIONS:
        # Art. 23(2): the restriction is a provision of law; one the registry does not know
        # for the controller's country cannot be named to the subject, so it is no ground here.
        raise ValidationError(
            gettext(
                "No restriction in national law is recorded for the controller's country "
                "(%(country)s): the provision must be named to the subject (Art. 23(2))."
            )
            % {"country": country or "?"}
        )
    if right == Right.OBJECTION and (ground in OBJECTION_GROUNDS or ground == G.NATIONAL_LAW):
        _check_objection(ground_text, objection_to, partial=partial)
    if not reason.strip():
        raise ValidationError(gettext("Explain the refusal: the subject is told the reasons."))
    if ground == G.UNFOUNDED_OR_EXCESSIVE and not evidence.strip():
        raise ValidationError(
            gettext(
                "Record the evidence that the request is manifestly unfounded or excessive: "
                "the controller must be able to show it (Art. 12(5))."
            )
        )


def _check_objection(ground_text: str, objection_to: str, *, partial: bool) -> None:
    """Art. 21(3): no ground of Art. 21(1) (nor Art. 23) answers an objection to direct
    marketing; part of one that is also to other processing may be refused on them."""
    allowed = {ObjectionTo.PARTICULAR_SITUATION} | ({ObjectionTo.BOTH} if partial else set())
    if objection_to in allowed:
        return
    if not objection_to:
        raise ValidationError(
            gettext(
                "Record first what the objection is to: %(ground)s can answer an objection "
                "on grounds of the subject's particular situation (Art. 21(1)), never one to "
                "direct marketing (Art. 21(3))."
            )
            % {"ground": ground_text}
        )
    raise ValidationError(
        gettext(
            "An objection to direct marketing is absolute (Art. 21(3)): it cannot be refused "
            "on %(ground)s. Stop the direct marketing; refuse only the rest, as a partial "
            "refusal when sending the response."
        )
        % {"ground": ground_text}
    )
