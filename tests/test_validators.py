"""The shared validators: what a URL, a form or a file may bring in."""

from __future__ import annotations

import pytest

from controllers.validators import database_id, has_control_characters


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        ("42", 42),
        ("999999999999999999", 999_999_999_999_999_999),
        ("", None),
        ("0", None),
        ("-1", None),
        ("²", None),
        ("١٢", None),
        ("1_000", None),
        (" 7 ", None),
        ("7\x00", None),
        ("9223372036854775808", None),
        ("1" * 19, None),
    ],
)
def test_a_database_id_is_ascii_digits_that_fit_a_bigint(value, expected):
    assert database_id(value) == expected


@pytest.mark.parametrize(
    ("value", "multiline", "expected"),
    [
        ("Jan Jansen", False, False),
        ("regel 1\nregel 2", True, False),
        ("regel 1\nregel 2", False, True),
        ("a\u202eb", True, True),  # a bidi override hides text from the reader
        ("a\u200db", False, True),  # zero-width joiner
        ("\x01", True, True),
    ],
)
def test_control_and_invisible_characters_are_found(value, multiline, expected):
    assert has_control_characters(value, multiline=multiline) is expected
