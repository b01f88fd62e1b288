"""Policy files: one TOML file a controller, transcribed from its privacy statement.

``load_policy_files`` validates every file before it writes anything and then upserts all of them
in one transaction, so a bad file changes nothing; a ``PolicyError`` names the file, the key and
what is wrong. ``dump_policy`` writes a controller back in the same canonical format, so that
``load → export`` reproduces a canonical file byte for byte (the tests hold us to that).

The format is documented in ``controllers/policies/README.md``. Silence is explicit: every right
appears with a status, and an empty string means "the statement says nothing about this".
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import tomli_w
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email, validate_slug
from django.db import transaction

from dsar.deadlines import COUNTRY_TIME_ZONES

from .models import (
    Controller,
    Country,
    DataCategory,
    LegalBasis,
    MaskField,
    Offer,
    PeriodUnit,
    Recipient,
    RecipientKind,
    Right,
    RightDeclaration,
    SupervisoryAuthority,
    Tristate,
    Verification,
)

SCHEMA_VERSION = 1


class PolicyError(Exception):
    """A policy file that cannot be loaded: says which file, which key and what is wrong."""

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path, self.key, self.message = path, key, message
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


# --- A tiny schema language: each field is (kind, required, extra). Kept local because the
# format is small and error messages must name the exact key path.


@dataclass(frozen=True)
class Field:
    # str, text, bool, int, date, email, emails, url, choice, choices, strs, table, tables
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    schema: Mapping[str, Field] | None = None


PROMISE = {
    "amount": Field("int", required=True),
    "unit": Field("choice", required=True, choices=tuple(PeriodUnit.values)),
    "quote": Field("text"),
}
RIGHT = {
    "status": Field("choice", required=True, choices=tuple(Offer.values)),
    "quote": Field("text"),
    "condition": Field("text"),
    "promise": Field("table", schema=PROMISE),
    "clock_pauses": Field("bool"),
    "verification": Field("choice", choices=tuple(Verification.values)),
    "verification_quote": Field("text"),
    "mask_fields": Field("choices", choices=tuple(MaskField.values)),
}
RETENTION = {
    "amount": Field("int", required=True),
    "unit": Field("choice", required=True, choices=tuple(PeriodUnit.values)),
    "after": Field("str"),
}
CATEGORY = {
    "name": Field("str", required=True),
    "examples": Field("strs"),
    "purposes": Field("strs"),
    "legal_bases": Field("choices", choices=tuple(LegalBasis.values)),
    "retention": Field("text"),
    "retention_period": Field("table", schema=RETENTION),
    "source": Field("str"),
}
RECIPIENT = {
    "name": Field("str", required=True),
    "kind": Field("choice", required=True, choices=tuple(RecipientKind.values)),
    "purpose": Field("text"),
    "outside_eea": Field("choice", choices=tuple(Tristate.values)),
    "safeguards": Field("text"),
}
DPO = {"name": Field("str"), "email": Field("email")}
RIGHTS = {right: Field("table", required=True, schema=RIGHT) for right in Right.values}
POLICY = {
    "schema": Field("int", required=True),
    "slug": Field("str", required=True),
    "legal_name": Field("str", required=True),
    "trade_names": Field("strs"),
    "country": Field("choice", required=True, choices=tuple(Country.values)),
    "time_zone": Field("str"),
    "address": Field("text"),
    "registry_kind": Field("str"),
    "registry_number": Field("str"),
    "privacy_emails": Field("emails"),
    "postal_address": Field("text"),
    "phone": Field("str"),
    "website": Field("str"),
    "supervisory_authority": Field("str", required=True),
    "complaint_right": Field("text"),
    "automated_decisions": Field("text"),
    "eea_transfers": Field("text"),
    "statement_date": Field("date"),
    "statement_source": Field("str"),
    "extra_holidays": Field("strs"),
    "notes": Field("text"),
    "dpo": Field("table", schema=DPO),
    "rights": Field("table", required=True, schema=RIGHTS),
    "data_categories": Field("tables", schema=CATEGORY),
    "recipients": Field("tables", schema=RECIPIENT),
}

# Single-line strings are capped so that a stray paste cannot fill a CharField silently.
_MAX_STR = 300


def _check(path: str, key: str, field: Field, value: Any) -> None:
    def fail(message: str) -> None:
        raise PolicyError(path, key, message)

    kind = field.kind
    if kind in ("str", "text", "email", "url", "choice"):
        if not isinstance(value, str):
            fail(f"expected a string, got {type(value).__name__}")
        if kind == "str" and ("\n" in value or len(value) > _MAX_STR):
            fail(f"expected one line of at most {_MAX_STR} characters")
        if kind == "email" and value:
            try:
                validate_email(value)
            except ValidationError:
                fail(f"{value!r} is not an email address")
        if kind == "url" and value:
            try:
                URLValidator()(value)
            except ValidationError:
                fail(f"{value!r} is not a URL")
        if kind == "choice" and value not in field.choices:
            fail(f"{value!r} is not one of {', '.join(field.choices)}")
    elif kind == "bool":
        if not isinstance(value, bool):
            fail(f"expected true or false, got {value!r}")
    elif kind == "int":
        # bool is an int in Python; a policy that says `amount = true` is a mistake.
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            fail(f"expected a whole number of at least 1, got {value!r}")
    elif kind == "date":
        if isinstance(value, str) and value == "":
            return
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            fail(f'expected a date (YYYY-MM-DD), or "" if the statement has none; got {value!r}')
    elif kind in ("strs", "emails", "choices"):
        if not isinstance(value, list):
            fail(f"expected a list, got {type(value).__name__}")
        for index, item in enumerate(value):
            item_kind = {"strs": "str", "emails": "email", "choices": "choice"}[kind]
            _check(path, f"{key}[{index}]", Field(item_kind, choices=field.choices), item)
        if len(set(value)) != len(value):
            fail("has duplicates")
    elif kind == "table":
        if not isinstance(value, dict):
            fail(f"expected a table, got {type(value).__name__}")
        _check_table(path, key, field.schema or {}, value)
    elif kind == "tables":
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            fail("expected an array of tables ([[...]])")
        for index, item in enumerate(value):
            _check_table(path, f"{key}[{index}]", field.schema or {}, item)


def _check_table(path: str, prefix: str, schema: Mapping[str, Field], data: Mapping) -> None:
    def name(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    for key in data:
        if key not in schema:
            raise PolicyError(path, name(key), f"unknown key (expected one of {', '.join(schema)})")
    for key, field in schema.items():
        if key not in data:
            if field.required:
                raise PolicyError(path, name(key), "missing")
            continue
        _check(path, name(key), field, data[key])


def normalise(value: Any) -> Any:
    """Strip strings and use LF line ends, everywhere in a parsed policy.

    The admin's form fields strip whitespace and browsers send CRLF from a textarea; normalising
    on the way in and out keeps a file, the database and an admin edit of it the same text.
    """
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    return value


def validate_policy(data: Mapping[str, Any], path: str) -> None:
    """Check one parsed policy; raises PolicyError. Covers all that needs no database."""
    _check_table(path, "", POLICY, data)
    if data["schema"] != SCHEMA_VERSION:
        raise PolicyError(path, "schema", f"unsupported version {data['schema']}")
    try:
        validate_slug(data["slug"])
    except ValidationError:
        raise PolicyError(path, "slug", "use letters, digits, hyphens and underscores") from None
    time_zone = data.get("time_zone", "")
    if time_zone and time_zone not in available_timezones():
        raise PolicyError(path, "time_zone", f"{time_zone!r} is not an IANA time zone")
    for index, day in enumerate(data.get("extra_holidays", [])):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise PolicyError(path, f"extra_holidays[{index}]", f"{day!r} is not a date") from None
    for right, declared in data["rights"].items():
        key = f"rights.{right}"
        if declared["status"] == Offer.CONDITIONAL and not declared.get("condition", "").strip():
            raise PolicyError(path, f"{key}.condition", "a conditional right names its condition")
        if declared["status"] == Offer.NOT_DECLARED and "promise" in declared:
            raise PolicyError(path, f"{key}.promise", "a right not declared has no promise")
        if declared.get("mask_fields") and declared.get("verification") != Verification.ID_DOCUMENT:
            raise PolicyError(path, f"{key}.mask_fields", "only an ID document has fields to mask")


def read_policy_file(path: Path) -> dict[str, Any]:
    """Parse and validate one file; every failure is a PolicyError naming the file."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(name, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(name, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(name, "", f"not valid TOML: {exc}") from None
    data = normalise(data)
    validate_policy(data, name)
    return data


def policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if p.is_file())


def load_policy_files(paths: Iterable[Path]) -> list[Controller]:
    """Validate all files, then upsert them all in one transaction (all or nothing)."""
    parsed: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for path in paths:
        data = read_policy_file(path)
        if data["slug"] in seen:
            other = seen[data["slug"]]
            raise PolicyError(str(path), "slug", f"{data['slug']!r} is also in {other}")
        seen[data["slug"]] = str(path)
        parsed.append((str(path), data))
    with transaction.atomic():
        return [_upsert(data, name) for name, data in parsed]


def _upsert(data: Mapping[str, Any], path: str) -> Controller:
    try:
        authority = SupervisoryAuthority.objects.get(code=data["supervisory_authority"])
    except SupervisoryAuthority.DoesNotExist:
        known = ", ".join(SupervisoryAuthority.objects.values_list("code", flat=True))
        raise PolicyError(
            path, "supervisory_authority", f"unknown authority (known: {known})"
        ) from None
    dpo = data.get("dpo", {})
    statement_date = data.get("statement_date") or None
    controller, _ = Controller.objects.update_or_create(
        slug=data["slug"],
        defaults={
            "legal_name": data["legal_name"],
            "trade_names": list(data.get("trade_names", [])),
            "country": data["country"],
            "time_zone": data.get("time_zone") or COUNTRY_TIME_ZONES[data["country"]],
            "address": data.get("address", ""),
            "registry_kind": data.get("registry_kind", ""),
            "registry_number": data.get("registry_number", ""),
            "privacy_emails": list(data.get("privacy_emails", [])),
            "postal_address": data.get("postal_address", ""),
            "phone": data.get("phone", ""),
            "website": data.get("website", ""),
            "dpo_name": dpo.get("name", ""),
            "dpo_email": dpo.get("email", ""),
            "supervisory_authority": authority,
            "complaint_right": data.get("complaint_right", ""),
            "automated_decisions": data.get("automated_decisions", ""),
            "eea_transfers": data.get("eea_transfers", ""),
            "statement_date": statement_date,
            "statement_source": data.get("statement_source", ""),
            "extra_holidays": list(data.get("extra_holidays", [])),
            "notes": data.get("notes", ""),
        },
    )
    # Children are replaced wholesale: the file is the truth, and positions keep its order.
    controller.rights.all().delete()
    controller.data_categories.all().delete()
    controller.recipients.all().delete()
    RightDeclaration.objects.bulk_create(
        RightDeclaration(
            controller=controller,
            right=right,
            offer=declared["status"],
            condition=declared.get("condition", ""),
            quote=declared.get("quote", ""),
            promise_amount=declared.get("promise", {}).get("amount"),
            promise_unit=declared.get("promise", {}).get("unit", ""),
            promise_quote=declared.get("promise", {}).get("quote", ""),
            clock_pauses=declared.get("clock_pauses", True),
            verification=declared.get("verification", Verification.EMAIL),
            verification_quote=declared.get("verification_quote", ""),
            mask_fields=list(declared.get("mask_fields", [])),
        )
        for right, declared in data["rights"].items()
    )
    DataCategory.objects.bulk_create(
        DataCategory(
            controller=controller,
            position=position,
            name=category["name"],
            examples=list(category.get("examples", [])),
            purposes=list(category.get("purposes", [])),
            legal_bases=list(category.get("legal_bases", [])),
            retention=category.get("retention", ""),
            retention_amount=category.get("retention_period", {}).get("amount"),
            retention_unit=category.get("retention_period", {}).get("unit", ""),
            retention_after=category.get("retention_period", {}).get("after", ""),
            source=category.get("source", ""),
        )
        for position, category in enumerate(data.get("data_categories", []))
    )
    Recipient.objects.bulk_create(
        Recipient(
            controller=controller,
            position=position,
            name=recipient["name"],
            kind=recipient["kind"],
            purpose=recipient.get("purpose", ""),
            outside_eea=recipient.get("outside_eea", Tristate.UNKNOWN),
            safeguards=recipient.get("safeguards", ""),
        )
        for position, recipient in enumerate(data.get("recipients", []))
    )
    return controller


def policy_data(controller: Controller) -> dict[str, Any]:
    """The controller as a policy mapping, every key present (silence written as "")."""
    data: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "slug": controller.slug,
        "legal_name": controller.legal_name,
        "trade_names": list(controller.trade_names),
        "country": controller.country,
        "time_zone": controller.time_zone,
        "address": controller.address,
        "registry_kind": controller.registry_kind,
        "registry_number": controller.registry_number,
        "privacy_emails": list(controller.privacy_emails),
        "postal_address": controller.postal_address,
        "phone": controller.phone,
        "website": controller.website,
        "supervisory_authority": controller.supervisory_authority.code,
        "complaint_right": controller.complaint_right,
        "automated_decisions": controller.automated_decisions,
        "eea_transfers": controller.eea_transfers,
        "statement_date": controller.statement_date or "",
        "statement_source": controller.statement_source,
        "extra_holidays": list(controller.extra_holidays),
        "notes": controller.notes,
        "dpo": {"name": controller.dpo_name, "email": controller.dpo_email},
        "rights": {},
        "data_categories": [],
        "recipients": [],
    }
    declarations = {d.right: d for d in controller.rights.all()}
    for right in Right.values:  # the GDPR's order, not the database's
        declaration = declarations.get(right)
        if declaration is None:
            data["rights"][right] = {"status": Offer.NOT_DECLARED.value}
            continue
        entry: dict[str, Any] = {
            "status": declaration.offer,
            "quote": declaration.quote,
            "condition": declaration.condition,
            "clock_pauses": declaration.clock_pauses,
            "verification": declaration.verification,
            "verification_quote": declaration.verification_quote,
            "mask_fields": list(declaration.mask_fields),
        }
        if declaration.promise_amount is not None:
            entry["promise"] = {
                "amount": declaration.promise_amount,
                "unit": declaration.promise_unit,
                "quote": declaration.promise_quote,
            }
        data["rights"][right] = entry
    for category in controller.data_categories.all():
        entry = {
            "name": category.name,
            "examples": list(category.examples),
            "purposes": list(category.purposes),
            "legal_bases": list(category.legal_bases),
            "retention": category.retention,
            "source": category.source,
        }
        if category.retention_amount is not None:
            entry["retention_period"] = {
                "amount": category.retention_amount,
                "unit": category.retention_unit,
                "after": category.retention_after,
            }
        data["data_categories"].append(entry)
    for recipient in controller.recipients.all():
        data["recipients"].append(
            {
                "name": recipient.name,
                "kind": recipient.kind,
                "purpose": recipient.purpose,
                "outside_eea": recipient.outside_eea,
                "safeguards": recipient.safeguards,
            }
        )
    return data


def dump_policy(controller: Controller) -> str:
    """The canonical TOML text of a controller's policy."""
    header = (
        f"# Policy of {controller.legal_name}, transcribed from its privacy statement.\n"
        "# Format: controllers/policies/README.md. An empty string means the statement is silent.\n"
    )
    return header + tomli_w.dumps(normalise(policy_data(controller)), multiline_strings=True)
