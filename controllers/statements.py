"""The privacy statements the policies were transcribed from, and where a quote stands in one.

A policy's ``statement_source`` names its statement in ``controllers/policies/statements/``. The
text was extracted from PDFs and web pages: line breaks and spacing are noise (a break may fall
inside a word or a URL), the words are not. So a quote is looked for with all white space
removed, and markdown link syntax of the extraction is reduced to its text.

Decision (issue 21): a quote is the statement's own words, never cut mid-sentence.

- A *sentence quote* (a right's words, an identity rule, a promise, the complaint, automated
  decisions and transfer words, a retention rule, a recipient's safeguards) starts where a
  sentence, a list item, a table cell or a heading line starts, and ends where one ends.
- A *clause quote* (a condition, a purpose, a source, a recipient's purpose) may start inside a
  sentence, because it is the part of the sentence that states the condition or purpose, but it
  ends at a clause boundary: a punctuation mark (``. , ; : ! ? )``), the end of a paragraph,
  list item, table cell or line of a table.

Separate passages of one field are joined by a blank line; each is checked on its own. Names,
examples and the ``after`` of a retention period are labels in the statement's terms, not quotes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

SENTENCE_END = ".;:!?"
CLAUSE_END = SENTENCE_END + ",)"
BULLETS = "•●-*–"


def statements_dir() -> Path:
    return Path(settings.POLICY_DIR) / "statements"


def clean(text: str) -> str:
    """The extraction's markdown reduced to the words: ``[text](url)`` -> text, ``<url>`` ->
    url, escapes and emphasis marks dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<(https?://[^>]*)>", r"\1", text)
    return re.sub(r"[\\*]", "", text)


def read_statement(source: str) -> str | None:
    """The cleaned text of the statement a policy names, or None when it is not kept here (a
    name with a path in it is refused: it names a file in the statements folder only)."""
    if not source or Path(source).name != source:
        return None
    path = statements_dir() / source
    if not path.is_file():
        return None
    return clean(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=64)
def _squeezed(text: str) -> tuple[str, tuple[int, ...]]:
    """The text without white space, and for each of its characters the original position
    (cached: every quote of a policy is looked for in the same statement)."""
    kept = [(i, c) for i, c in enumerate(text) if not c.isspace()]
    return "".join(c for _, c in kept), tuple(i for i, _ in kept)


def _line_of(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start : end if end != -1 else len(text)]


def _ends_well(text: str, end: int, quote: str, marks: str) -> bool:
    """Whether a quote ending before ``end`` of ``text`` ends at a boundary."""
    if quote[-1] in marks:
        return True
    rest = text[end:]
    stripped = rest.lstrip()
    if not stripped:
        return True
    gap = rest[: len(rest) - len(stripped)]
    if stripped[0] in marks or "\t" in gap:
        return True
    if re.search(r"\n[ \t]*\n", gap):  # end of a paragraph, heading or list item
        return True
    if "\n" in gap:
        # The next line opens a list item, or this line is a table row.
        return stripped[0] in BULLETS or "\t" in _line_of(text, end - 1)
    return False


def _starts_well(text: str, start: int, quote: str) -> bool:
    """Whether a quote starting at ``start`` of ``text`` starts a sentence, item or heading."""
    before = text[:start]
    stripped = before.rstrip()
    if not stripped:
        return True
    gap = before[len(stripped) :]
    if stripped[-1] in SENTENCE_END + ")" + BULLETS or "\t" in gap:
        return True
    if re.search(r"\n[ \t]*\n", gap):
        return True
    # A line of its own starting with a capital: the line before is a heading.
    return "\n" in gap and quote[0].isupper()


def find_problem(passage: str, statement: str, *, clause: bool) -> str | None:
    """Why ``passage`` is not a faithful quote of ``statement`` (None: it is)."""
    needle, _ = _squeezed(clean(passage))
    if not needle:
        return None
    haystack, positions = _squeezed(statement)
    found = False
    index = haystack.find(needle)
    while index != -1:
        found = True
        start = positions[index]
        end = positions[index + len(needle) - 1] + 1
        marks = CLAUSE_END if clause else SENTENCE_END
        if _ends_well(statement, end, needle, marks) and (
            clause or _starts_well(statement, start, needle)
        ):
            return None
        index = haystack.find(needle, index + 1)
    if not found:
        return "not in the statement"
    return "cut mid-clause" if clause else "cut mid-sentence"


@dataclass(frozen=True)
class Quote:
    key: str  # where in the policy, e.g. "rights.objection.condition"
    text: str  # one passage
    clause: bool


def quotes(data: dict[str, Any]) -> Iterator[Quote]:
    """Every quoted passage of a parsed policy, with where it stands and its kind."""

    def passages(key: str, value: str, clause: bool = False) -> Iterator[Quote]:
        for passage in (value or "").split("\n\n"):
            if passage.strip():
                yield Quote(key, passage.strip(), clause)

    for key in ("complaint_right", "automated_decisions", "eea_transfers"):
        yield from passages(key, data.get(key, ""))
    for right, declared in data.get("rights", {}).items():
        prefix = f"rights.{right}"
        for key in ("quote", "verification_quote", "marketing_verification_quote"):
            yield from passages(f"{prefix}.{key}", declared.get(key, ""))
        yield from passages(f"{prefix}.promise.quote", declared.get("promise", {}).get("quote"))
        if declared.get("status") == "conditional":
            yield from passages(f"{prefix}.condition", declared.get("condition", ""), True)
    for index, category in enumerate(data.get("data_categories", [])):
        prefix = f"data_categories[{index}]"
        yield from passages(f"{prefix}.retention", category.get("retention", ""))
        yield from passages(f"{prefix}.source", category.get("source", ""), True)
        for number, purpose in enumerate(category.get("purposes", [])):
            yield from passages(f"{prefix}.purposes[{number}]", purpose, True)
    for index, recipient in enumerate(data.get("recipients", [])):
        prefix = f"recipients[{index}]"
        yield from passages(f"{prefix}.purpose", recipient.get("purpose", ""), True)
        yield from passages(f"{prefix}.safeguards", recipient.get("safeguards", ""))


def unfaithful_quotes(data: dict[str, Any], statement: str) -> list[tuple[Quote, str]]:
    """The quotes of a policy that are not the statement's words, or are cut, and why."""
    found = []
    for quote in quotes(data):
        problem = find_problem(quote.text, statement, clause=quote.clause)
        if problem:
            found.append((quote, problem))
    return found
