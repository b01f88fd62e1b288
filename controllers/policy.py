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
import functools
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import tomli_w
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email, validate_slug
from django.db import transaction
from django.utils import timezone

from legalclock import COUNTRY_TIME_ZONES

from . import registry
from .models import (
    Controller,
    Offer,
    PolicyVersion,
    Right,
    SupervisoryAuthority,
    Verification,
)
from .schema import POLICY, RIGHT, SCHEMA_VERSION, Field, attributes, table_of
from .validators import has_control_characters


class PolicyError(Exception):
    """A policy file that cannot be loaded: says which file, which key and what is wrong."""

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path, self.key, self.message = path, key, message
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


# Single-line strings are capped so that a stray paste cannot fill a CharField silently.
_MAX_STR = 300


def _check(path: str, key: str, field: Field, value: Any) -> None:
    def fail(message: str) -> None:
        raise PolicyError(path, key, message)

    kind = field.kind
    if kind in ("str", "text", "email", "url", "choice"):
        if not isinstance(value, str):
            fail(f"expected a string, got {type(value).__name__}")
        if has_control_characters(value, multiline=kind == "text"):
            fail("contains control or invisible characters")
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
        if value > field.maximum:
            fail(f"expected a whole number of at most {field.maximum}, got {value}")
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
        if declared.get("mask_rule") and not declared.get("mask_fields"):
            raise PolicyError(path, f"{key}.mask_rule", "a rule for blacking out names its fields")
        if right != Right.OBJECTION and (
            declared.get("marketing_verification") or declared.get("marketing_verification_quote")
        ):
            raise PolicyError(
                path,
                f"{key}.marketing_verification",
                "only an objection concerns direct marketing (Art. 21(2))",
            )


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one file of the registry (a policy or a systems file) into plain, normalised data;
    every failure is a PolicyError naming the file."""
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
    return normalise(data)


def toml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if p.is_file())


def read_policy_file(path: Path) -> dict[str, Any]:
    """Parse and validate one file; every failure is a PolicyError naming the file."""
    data = read_toml(path)
    validate_policy(data, str(path))
    return data


def policy_files(directory: Path) -> list[Path]:
    return toml_files(directory)


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
        loaded = [_upsert(data, name) for name, data in parsed]
        # bulk_create sends no signal: tell the processes' registry caches (after commit).
        transaction.on_commit(registry.invalidate)
    return loaded


def _upsert(data: Mapping[str, Any], path: str) -> Controller:
    values = attributes(data, POLICY)
    code = values.pop("supervisory_authority")
    try:
        values["supervisory_authority"] = SupervisoryAuthority.objects.get(code=code)
    except SupervisoryAuthority.DoesNotExist:
        known = ", ".join(SupervisoryAuthority.objects.values_list("code", flat=True))
        raise PolicyError(
            path, "supervisory_authority", f"unknown authority (known: {known})"
        ) from None
    values["time_zone"] = values["time_zone"] or COUNTRY_TIME_ZONES[values["country"]]
    controller, _ = Controller.objects.update_or_create(slug=values.pop("slug"), defaults=values)
    # Rows of their own are replaced wholesale: the file is the truth, positions keep its order.
    for key, field in POLICY.items():
        if field.model is None:
            continue
        field.model.objects.filter(controller=controller).delete()
        field.model.objects.bulk_create(
            field.model(controller=controller, **row) for row in _rows(key, field, data)
        )
    return controller


def _rows(key: str, field: Field, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attributes of each row a file gives: an array of tables (in the file's order), or the
    rights, a table keyed by right."""
    if field.kind == "tables":
        return [
            {"position": position, **attributes(item, field.schema or {})}
            for position, item in enumerate(data.get(key, []))
        ]
    return [{"right": right, **attributes(item, RIGHT)} for right, item in data[key].items()]


def policy_data(controller: Controller) -> dict[str, Any]:
    """The controller as a policy mapping, every key present (silence written as "")."""
    data = {"schema": SCHEMA_VERSION, **table_of(controller, POLICY)}
    declarations = {d.right: d for d in controller.rights.all()}
    data["rights"] = {
        # The GDPR's order, not the database's; a right missing from the registry is silence.
        right: table_of(declarations[right], RIGHT)
        if right in declarations
        else {"status": Offer.NOT_DECLARED.value}
        for right in Right.values
    }
    for key in ("data_categories", "recipients"):
        rows = getattr(controller, key).all()
        data[key] = [table_of(row, POLICY[key].schema or {}) for row in rows]
    return data


def dump_policy(controller: Controller) -> str:
    """The canonical TOML text of a controller's policy."""
    header = (
        f"# Policy of {controller.legal_name}, transcribed from its privacy statement.\n"
        "# Format: controllers/policies/README.md. An empty string means the statement is silent.\n"
    )
    return header + tomli_w.dumps(normalise(policy_data(controller)), multiline_strings=True)


# Where in_force notes the hash on a controller instance.
_IN_FORCE = "_dsar_policy_in_force"


def policy_sha256(text: str) -> str:
    """The SHA-256 of a policy file's text (UTF-8), as requests record it."""
    return hashlib.sha256(text.encode()).hexdigest()


def record_version(controller: Controller) -> str:
    """The SHA-256 of the policy this controller instance holds (``dump_policy``), its text
    kept as a ``PolicyVersion`` if this version is new.

    Content-addressed and only ever added to, so it needs no lock: two intakes recording the
    same new version at once insert one row (the other's insert is ignored), and a row left by
    an intake that then failed is still a true version."""
    text = dump_policy(controller)
    sha = policy_sha256(text)
    if not PolicyVersion.objects.filter(controller=controller, sha256=sha).exists():
        PolicyVersion.objects.bulk_create(
            [
                PolicyVersion(
                    controller=controller, sha256=sha, text=text, recorded_at=timezone.now()
                )
            ],
            ignore_conflicts=True,
        )
    return sha


def in_force(controller: Controller) -> str:
    """The SHA-256 of the policy this controller instance holds, its text kept
    (``record_version``).

    On an instance the registry hands out (``registry.is_shared``: loaded once with all its
    rows, never changed), the hash is noted once its transaction commits (a hash whose row was
    rolled back is recorded again): the public form's intakes pay no query for it, and it is
    always of the rows their deadlines were computed from. A registry edit gives new instances
    (``registry.invalidate``), and with them the new policy's hash. Any other instance (staff
    entry, mail in) may have been changed since it was loaded: its policy is read each time."""
    sha: str | None = controller.__dict__.get(_IN_FORCE)
    if sha is None:
        sha = record_version(controller)
        if registry.is_shared(controller):
            note = functools.partial(controller.__dict__.__setitem__, _IN_FORCE, sha)
            transaction.on_commit(note)
    return sha
