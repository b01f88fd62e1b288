"""Validators for text a person, a URL or a file supplied, shared by every form, filter and loader.

Control and invisible characters are refused: they hide text from the reader (bidi overrides,
zero-width joiners), break mail headers and logs, and have no place in a request.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def no_control_characters(value: str, *, multiline: bool = False) -> None:
    allowed = {"\n", "\r", "\t"} if multiline else set()
    for char in value:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co"):
            raise ValidationError(
                _("Remove the invisible or control characters from this field."), code="control"
            )


def single_line(value: str) -> None:
    no_control_characters(value)


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    try:
        no_control_characters(value, multiline=multiline)
    except ValidationError:
        return True
    return False


def multi_line(value: str) -> None:
    no_control_characters(value, multiline=True)


def database_id(value: str) -> int | None:
    """A primary key from a URL or a form, or None. Only ASCII digits, and few enough for a
    bigint: ``str.isdigit`` also accepts "²" and "١" (which ``int`` then refuses, or reads),
    and an id beyond 2**63 overflows in PostgreSQL."""
    if not value or len(value) > 18 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number or None
