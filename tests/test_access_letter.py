"""The Art. 15 letter is about this subject (issue 21, part 1): only the categories the searches
found, the recipients of the subject's data by identity, whether automated decisions are taken,
both supervisory authorities, and never "not stated": where the statement is silent, the
response waits until the officer supplies the item.

Real parts: the demo's five controllers with their systems filled by ``demo.people``, the stub
processor on a socket, the request driven through the one transition path, the package built
and the letter read back from the ZIP."""

from __future__ import annotations

import html

import pytest
from django.core.exceptions import ValidationError

from cases.actors import Actor
from cases.workflow import perform
from fulfilment import letter

from .demo_world import SLUGS, drive_to_work, settle, supply_letter_items, respond, unzip


def _text(archive) -> str:
    return html.unescape(archive.read("letter.html").decode())


@pytest.mark.parametrize("slug", SLUGS)
def test_print_gaps(world, committed, slug):
    officer = world["officer"]
    case = drive_to_work(committed, world["controllers"][slug], officer)
    settle(committed, case, officer)
    for gap in letter.gaps(case):
        print(slug, gap.key, "|", gap.what)
    with pytest.raises(ValidationError):
        committed(perform, case, "prepare_response", actor=Actor.officer(officer), response="x")
    supply_letter_items(committed, case, officer)
    archive = unzip(respond(committed, case, officer))
    print(_text(archive))
    assert 0
