"""Every string is translated into Dutch, and the compiled catalogue matches its source."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib

from .conftest import require_service

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "nl" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Not part of the product's catalogue (the Makefile's `messages` target ignores them too).
SKIP = {"tests", "bench"}


def test_every_dutch_entry_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(PO))
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


def test_the_compiled_catalogue_is_the_source_compiled():
    source = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in polib.pofile(str(PO))}
    compiled = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural
        for e in polib.mofile(str(MO))
        if e.msgid  # the header
    }
    assert compiled == source, "run: msgfmt -o locale/nl/LC_MESSAGES/django.mo <the .po>"


def test_no_string_in_the_code_is_missing_from_the_catalogue(tmp_path):
    """makemessages on a copy of the project finds exactly the entries the catalogue has."""
    require_service(bool(shutil.which("xgettext")), "GNU gettext (xgettext) is not installed")
    packages = [p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in SKIP]
    for name in [*packages, "templates", "locale"]:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "nl", "--no-obsolete"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    fresh = {e.msgid for e in polib.pofile(str(tmp_path / "locale/nl/LC_MESSAGES/django.po"))}
    committed = {e.msgid for e in polib.pofile(str(PO))}
    assert fresh - committed == set(), "new strings: run makemessages -l nl and translate them"
    assert committed - fresh == set(), "stale strings: run makemessages -l nl --no-obsolete"


def test_no_translatable_string_hides_inside_an_f_string():
    """xgettext does not look inside f-strings: `f"{_('Now')}: …"` is never extracted, so it is
    never translated (the Dutch compliance report said "Now:")."""
    import io
    import re
    import tokenize
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    literal = re.compile(r"""\{\s*_\(\s*["']""")
    found = []
    for path in root.rglob("*.py"):
        if {".venv", "tests", "bench", "migrations"} & set(path.relative_to(root).parts):
            continue
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            is_f_string = token.string.lstrip("rbRB")[:1] in "fF"
            if token.type == tokenize.STRING and is_f_string and literal.search(token.string):
                found.append(f"{path.relative_to(root)}:{token.start[0]}")
    assert not found, found
