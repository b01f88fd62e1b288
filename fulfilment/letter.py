"""The Art. 15(1) letter: what the law says an access answer carries besides the copy, each item
taken from the controller's policy file, and "not stated in the privacy statement" where the
statement is silent (the subject then knows what to ask, and the officer what to fix)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from cases.models import Case
from controllers.models import (
    RIGHT_ARTICLES,
    LegalBasis,
    Offer,
    PeriodUnit,
    RecipientKind,
    Right,
    Tristate,
)

# The rights Art. 15(1)(e) says the subject is told of, besides the complaint (f).
TOLD_RIGHTS = (Right.RECTIFICATION, Right.ERASURE, Right.RESTRICTION, Right.OBJECTION)


def not_stated() -> str:
    return _("Not stated in the privacy statement.")


def _period(category: Any) -> str:
    if not category.retention_amount:
        return ""
    unit = dict(PeriodUnit.choices).get(category.retention_unit, category.retention_unit)
    text = f"{category.retention_amount} {unit}"
    if category.retention_after:
        text += " " + _("from %(moment)s") % {"moment": category.retention_after}
    return text


def letter_context(
    case: Case,
    *,
    tables: list[Any],
    withheld: list[dict[str, Any]],
    now: dt.datetime,
    exports: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """What the letter says. ``exports``: the files a department exported by hand (a manual
    system's answer), each ``{"system", "path", "name"}``: listed with what was found."""
    controller = case.controller
    found = {}
    for table in tables:
        for column in table.columns:
            found.setdefault(column["category"], 0)
        for category in {c["category"] for c in table.columns}:
            found[category] += table.rows
    bases = dict(LegalBasis.choices)
    categories = [
        {
            "name": category.name,
            "examples": list(category.examples),
            "purposes": list(category.purposes),
            "bases": [str(bases.get(b, b)) for b in category.legal_bases],
            "retention": category.retention,
            "period": _period(category),
            "source": category.source,
            "found": found.get(category.name),
        }
        for category in controller.data_categories.all()
    ]
    kinds = dict(RecipientKind.choices)
    recipients = [
        {
            "name": recipient.name,
            "kind": str(kinds.get(recipient.kind, recipient.kind)),
            "purpose": recipient.purpose,
            "outside_eea": recipient.outside_eea,
            "outside_eea_label": str(dict(Tristate.choices).get(recipient.outside_eea, "")),
            "safeguards": recipient.safeguards,
        }
        for recipient in controller.recipients.all()
    ]
    declarations = {d.right: d for d in controller.rights.all()}
    rights = []
    for right in TOLD_RIGHTS:
        declaration = declarations.get(right)
        offer = declaration.offer if declaration else Offer.NOT_DECLARED
        rights.append(
            {
                "label": str(dict(Right.choices)[right]),
                "article": RIGHT_ARTICLES[right],
                "offer": offer,
                "quote": declaration.quote if declaration else "",
                "condition": declaration.condition if declaration else "",
            }
        )
    transfers = [r for r in recipients if r["outside_eea"] == Tristate.YES]
    return {
        "case": case,
        "controller": controller,
        "authority": controller.supervisory_authority,
        "categories": categories,
        "recipients": recipients,
        "rights": rights,
        "transfers": transfers,
        "tables": tables,
        "exports": exports or [],
        "withheld": withheld,
        "now": now,
        "not_stated": not_stated(),
        "Offer": Offer,
    }
