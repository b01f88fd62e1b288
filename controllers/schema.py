"""The policy file format, declared once: every key, its type, and where the registry keeps it.

The validator (``controllers.policy.validate_policy``), the loader (``attributes``) and the
exporter (``table_of``) all read this schema; a key added here is validated, loaded and
exported without another line elsewhere. ``controllers/policies/README.md`` documents the keys
for people.

A key is stored on the model attribute of the same name unless ``attr`` says otherwise; a small
table kept in prefixed columns (``[promise]`` -> ``promise_amount``, ``promise_unit``, ...)
names its ``prefix``; the rows of a controller (rights, data categories, recipients) name their
``model``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models

from .models import (
    MAX_PERIOD_AMOUNT,
    AutomatedDecisionMaking,
    Country,
    DataCategory,
    LegalBasis,
    MaskField,
    MaskRule,
    Offer,
    PeriodUnit,
    Recipient,
    RecipientKind,
    Right,
    RightDeclaration,
    Tristate,
    Verification,
)

SCHEMA_VERSION = 1

# Kinds: str (one line), text, bool, int, date, email, url, choice; lists: strs, emails, choices;
# table (a [table]), tables (an array of [[tables]]).
_LISTS = ("strs", "emails", "choices")


@dataclass(frozen=True)
class Field:
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    schema: Mapping[str, Field] | None = None
    # Where the value is kept: the attribute of this name (default: the key itself) ...
    attr: str = ""
    # ... or, for a table kept in prefixed columns of its owner, the prefix ...
    prefix: str = ""
    # ... or, for rows of their own, their model (a table keyed by right, or an array).
    model: type[models.Model] | None = None
    stored: bool = True  # the format's version is read, not kept
    # The largest whole number an int key takes (a file's numbers count periods, years, seconds).
    maximum: int = MAX_PERIOD_AMOUNT
    # The value kept when a file leaves the key out (None: by kind, "" or [] or None).
    default: Any = None
    # Conversions between the file's value and the attribute's, where they differ.
    load: Callable[[Any], Any] | None = None
    dump: Callable[[Any], Any] | None = None

    def absent(self) -> Any:
        if self.default is not None:
            return self.default
        if self.kind in _LISTS:
            return []
        if self.kind == "bool":
            return False
        if self.kind in ("int", "table", "tables"):
            return None
        return ""


def _choice(values: list[str], **kwargs: Any) -> Field:
    return Field("choice", choices=tuple(values), **kwargs)


PROMISE = {
    "amount": Field("int", required=True),
    "unit": _choice(PeriodUnit.values, required=True),
    "quote": Field("text"),
}
RIGHT = {
    "status": _choice(Offer.values, required=True, attr="offer"),
    "quote": Field("text"),
    "condition": Field("text"),
    "promise": Field("table", schema=PROMISE, prefix="promise_"),
    "clock_pauses": Field("bool", default=True),
    "verification": _choice(Verification.values, default=Verification.EMAIL.value),
    "verification_quote": Field("text"),
    # Objection only: how identity is checked for an objection to direct marketing, where the
    # statement words it apart from the objection's own rule ("": the same as `verification`).
    "marketing_verification": _choice(["", *Verification.values]),
    "marketing_verification_quote": Field("text"),
    "mask_fields": Field("choices", choices=tuple(MaskField.values)),
    # "may" or "must" black them out, as the statement words it; "" when it names none.
    "mask_rule": _choice(["", *MaskRule.values]),
}
RETENTION = {
    "amount": Field("int", required=True),
    "unit": _choice(PeriodUnit.values, required=True),
    "after": Field("str"),
}
CATEGORY = {
    "name": Field("str", required=True),
    "examples": Field("strs"),
    "purposes": Field("strs"),
    "legal_bases": Field("choices", choices=tuple(LegalBasis.values)),
    "retention": Field("text"),
    "retention_period": Field("table", schema=RETENTION, prefix="retention_"),
    "source": Field("text"),
}
RECIPIENT = {
    "name": Field("str", required=True),
    "kind": _choice(RecipientKind.values, required=True),
    "purpose": Field("text"),
    "outside_eea": _choice(Tristate.values, default=Tristate.UNKNOWN.value),
    "safeguards": Field("text"),
}
DPO = {"name": Field("str"), "email": Field("email")}
RIGHTS = {right: Field("table", required=True, schema=RIGHT) for right in Right.values}
POLICY = {
    "schema": Field("int", required=True, stored=False),
    "slug": Field("str", required=True),
    "legal_name": Field("str", required=True),
    "trade_names": Field("strs"),
    "country": _choice(Country.values, required=True),
    # Empty: the country's zone (filled in by the loader, which knows the country).
    "time_zone": Field("str"),
    "address": Field("text"),
    "registry_kind": Field("str"),
    "registry_number": Field("str"),
    "privacy_emails": Field("emails"),
    "postal_address": Field("text"),
    "phone": Field("str"),
    "website": Field("str"),
    # The authority's code in the file, the row in the registry (the loader looks it up).
    "supervisory_authority": Field("str", required=True, dump=lambda authority: authority.code),
    "complaint_right": Field("text"),
    "automated_decisions": Field("text"),
    # Whether decisions based solely on automated processing are taken at all, as the statement
    # declares: "none", "taken", or "" where it does not say (the officer is asked, Art. 15(1)(h)).
    "automated_decision_making": _choice(["", *[v for v in AutomatedDecisionMaking.values if v]]),
    "eea_transfers": Field("text"),
    # "" in the file when the statement carries no date; NULL in the registry.
    "statement_date": Field(
        "date", load=lambda value: value or None, dump=lambda value: value or ""
    ),
    "statement_source": Field("str"),
    "extra_holidays": Field("strs"),
    "notes": Field("text"),
    "dpo": Field("table", schema=DPO, prefix="dpo_"),
    "rights": Field("table", required=True, schema=RIGHTS, model=RightDeclaration),
    "data_categories": Field("tables", schema=CATEGORY, model=DataCategory),
    "recipients": Field("tables", schema=RECIPIENT, model=Recipient),
}


def attributes(data: Mapping[str, Any], schema: Mapping[str, Field]) -> dict[str, Any]:
    """The model attributes one (validated) table of a file keeps; rows of their own aside."""
    found: dict[str, Any] = {}
    for key, field in schema.items():
        if not field.stored or field.model is not None:
            continue
        if field.prefix:
            inner = data.get(key) or {}
            for sub_key, sub_field in (field.schema or {}).items():
                found[field.prefix + sub_key] = inner.get(sub_key, sub_field.absent())
            continue
        value = data[key] if key in data else field.absent()
        if field.kind in _LISTS:
            value = list(value)
        found[field.attr or key] = field.load(value) if field.load else value
    return found


def table_of(instance: models.Model, schema: Mapping[str, Field]) -> dict[str, Any]:
    """One table of a file from a model instance, every key present, in the schema's order;
    rows of their own aside. A prefixed table is left out when its first key is empty (a right
    without a promise), since TOML has no null."""
    table: dict[str, Any] = {}
    for key, field in schema.items():
        if not field.stored or field.model is not None:
            continue
        if field.prefix:
            sub_schema = field.schema or {}
            inner = {sub: getattr(instance, field.prefix + sub) for sub in sub_schema}
            first = next(iter(sub_schema))
            if sub_schema[first].required and inner[first] is None:
                continue
            table[key] = inner
            continue
        value = getattr(instance, field.attr or key)
        if field.kind in _LISTS:
            value = list(value)
        table[key] = field.dump(value) if field.dump else value
    return table
