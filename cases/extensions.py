"""Where the rooms above the core plug into it, so that the core never imports them.

- Steps: a room declares its own steps (``cases.steps.Step``) and adds them to the core's table
  with ``cases.steps.register`` from its AppConfig.ready (before it registers its events, which
  then may not reuse a step's name); the workflow, the admin's buttons and forms, the status
  page, the state graph, the timeline and the case report then offer and read them like the
  core's. A name the table already has is an error. (Fulfilment: approving a plan of changes,
  lifting a restriction.)
- ``step_checking``: sent by ``workflow.perform`` inside its transaction, after the permission
  and state checks and before the transition, with ``case``, ``step`` (its name), ``actor`` and
  ``arguments`` (what the step was given: a refusal's ground, an approved plan's hash).
  A receiver that raises ``ValidationError`` refuses the step; nothing has changed yet.
  (Fulfilment: no response while a system's search is unsettled; no release before the package.)
- ``step_taken``: sent by ``perform`` inside the same transaction, after the step's event, with
  ``case``, ``step``, ``source`` (the state before), ``actor``, ``arguments`` (what the step was
  given) and ``message`` (its text to the subject), so that a receiver acts on what the step was
  given, never reading it back out of the record. What a receiver writes is part
  of the step: it commits or rolls back with it. (Fulfilment: start the searches once identity is
  settled; build the package; release it.)
- ``mail_fate``: sent by ``cases.mail`` inside the transaction that records a mail's fate, with
  ``mail`` (the OutgoingMail row) and ``outcome``: "sent" when it left, "undelivered" when the
  provider reported it bounced, rejected or failed. (Fulfilment: a recipient's notice counts as
  told only once its mail left, and waits for the officer again if it did not arrive.)
- Panels: a room shows its part of a case on the subject's status page and in the officer's case
  file by registering a function ``(case, request) -> str`` (HTML it rendered itself, escaped).
- Report sections: a room adds its evidence to the auditor's case report by registering a
  function ``(case) -> list[Section]``: a heading and plain-text lines (the report escapes them).
  (Fulfilment: the systems searched, the package, the plan of changes and its verification, the
  Art. 19 notices.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

step_checking = Signal()
step_taken = Signal()
mail_fate = Signal()


Panel = Callable[[Any, HttpRequest], str]
_SUBJECT_PANELS: list[Panel] = []
_OFFICER_PANELS: list[Panel] = []


def add_subject_panel(panel: Panel) -> None:
    if panel not in _SUBJECT_PANELS:
        _SUBJECT_PANELS.append(panel)


def add_officer_panel(panel: Panel) -> None:
    if panel not in _OFFICER_PANELS:
        _OFFICER_PANELS.append(panel)


def _render(panels: list[Panel], case: Any, request: HttpRequest) -> list[SafeString]:
    # Each panel renders a template of its own (autoescaped): its output is already HTML.
    return [mark_safe(html) for panel in panels if (html := panel(case, request))]  # noqa: S308


Section = tuple[str, list[str]]
ReportSections = Callable[[Any], list[Section]]
_REPORT_SECTIONS: list[ReportSections] = []


def add_report_section(sections: ReportSections) -> None:
    if sections not in _REPORT_SECTIONS:
        _REPORT_SECTIONS.append(sections)


def report_sections(case: Any) -> list[Section]:
    """Every room's evidence about the case, in the order the rooms registered."""
    return [section for sections in _REPORT_SECTIONS for section in sections(case)]


def subject_panels(case: Any, request: HttpRequest) -> list[SafeString]:
    return _render(_SUBJECT_PANELS, case, request)


def officer_panels(case: Any, request: HttpRequest) -> list[SafeString]:
    return _render(_OFFICER_PANELS, case, request)
