"""The Art. 15 letter: the information an access answer carries besides the copy (Art. 15(1)(a)-(h)
and 15(2)), about this subject, not a reprint of the privacy statement (EDPB 01/2022 §§ 111-
120: information tailored to the subject's processing; CJEU C-154/21: the actual recipients by
identity).

- **Only the categories found.** A data category is in the letter when the searches found some
  of the subject's data in it: the categories of the columns of every table with rows, and of a
  manual system whose owner exported something. Each with its purposes, legal bases, retention
  (the statement's period and words, and what the systems file keeps after an erasure and for
  how long, e.g. invoices 7 years) and source.
- **Recipients by identity.** The register of recipients (``RecipientIdentity``, from the systems
  file's ``[[notify.identities]]``): a recipient is named when it receives data of a system in
  which the subject's data was found (its ``receives``, or its entry's; none named: every
  system). A recipient that receives data only on occasion (a legal order, the subject's
  consent: ``occasional``) is named only after the officer checked, case by case, whether the
  subject's data went to it.
- **(h)** says whether automated decisions are taken (the statement's declaration,
  ``automated_decision_making``), not what the right is. **Art. 15(2)**: each recipient outside
  the EEA with its safeguard. **(f)**: the controller's lead authority, and the subject's own
  (Art. 77(1)): **Choice**: the subject's country is not asked at intake (a question more, and
  data more, for every request); the letter names the lead authority, the other authorities
  the registry knows by country, and the EDPB's list of every member state's authority, with
  the sentence that the subject may complain where they live or work.
- **Silence is never the answer.** Where neither the statement nor the registry says what an
  item needs, it is a *gap* (``gaps``): the response cannot be prepared until the officer
  supplies it (``supply``: kept as a ``LetterSupplement`` and as an event of the case's chain);
  with "reuse" it is kept for the controller's next request in the same language. The letter
  never says "not stated".
- **Quotes.** The statement and the registry are in Dutch (all five controllers'); every text
  taken from them is a quote, printed whole (never cut mid-sentence) and marked as such, with
  its language; a letter in English says once that the quotes are in the original Dutch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from cases.actors import Actor
from cases.audit import note
from cases.models import Case, State
from controllers.models import (
    RIGHT_ARTICLES,
    AutomatedDecisionMaking,
    Controller,
    LegalBasis,
    Offer,
    PeriodUnit,
    Right,
    SupervisoryAuthority,
    Tristate,
)
from controllers.systems import SystemKind, spec_of

from ..models import LetterSupplement, Search, SearchStatus

# The language of the statements and the registry's texts (the five controllers' statements
# are Dutch, smartphoto's Flemish): a letter in another language marks their quotes as such.
STATEMENT_LANGUAGE = "nl"
# The authorities of every member state, for a subject who lives or works elsewhere.
EDPB_MEMBERS_URL = "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"

# The rights Art. 15(1)(e) says the subject is told of, besides the complaint (f).
TOLD_RIGHTS = (Right.RECTIFICATION, Right.ERASURE, Right.RESTRICTION, Right.OBJECTION)

# The kinds of gap: a text, or a text with "none" as an answer of its own.
TEXT, NONE_OR_TEXT = "text", "none_or_text"
NONE = "none"

# What the officer's "none" means, by the last part of a gap's key.
# Checked for each request, never reused: whether automated decisions were taken about this
# subject (a statement that declares them taken); see also ``LetterSupplement.per_request``.
AUTOMATED_ABOUT_SUBJECT = "automated:subject"
NONE_LABELS = {
    "disclosed": gettext_lazy("None of the subject's data went to it"),
    "subject": gettext_lazy("None was taken about the subject"),
    "automated": gettext_lazy("No such decisions are taken"),
}


@dataclass
class Gap:
    """An item the letter needs that neither the statement nor the registry gives."""

    key: str
    what: str  # in the reader's language
    kind: str = TEXT
    reusable: bool = True

    @property
    def none_label(self) -> str:
        return str(NONE_LABELS.get(self.key.rsplit(":", 1)[-1], ""))


@dataclass
class Found:
    """What the searches found of the subject, by data category and by system."""

    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    systems: set[str] = field(default_factory=set)  # names of systems with the subject's data
    all_systems: set[str] = field(default_factory=set)


def found(case: Case) -> Found:
    """The categories and systems in which the searches found the subject's data: the columns'
    categories of each table with rows, a manual system's categories when its owner exported
    something. What an erasure keeps (``keep_years``, ``keep_ground``) goes with its category."""
    result = Found()
    searches = Search.objects.filter(case=case).select_related("system")
    for search in searches:
        result.all_systems.add(search.system_name)
        if search.status != SearchStatus.DONE or search.system is None:
            continue
        spec = spec_of(search.system.spec)
        tables = {t.name: t for t in spec.tables}
        for name, rows in search.counts.items():
            if not rows:
                continue
            result.systems.add(search.system_name)
            if name.startswith("file:"):
                if spec.kind == SystemKind.MANUAL:
                    for category in spec.categories:
                        entry = _entry(result, category, search.system_title)
                        if spec.keep_years:
                            _keep(entry, spec.title, spec.keep_years, spec.keep_ground)
                continue
            table = tables.get(name)
            if table is None:
                continue
            for column in table.columns:
                entry = _entry(result, column.category, search.system_title)
                if column.label not in entry["fields"]:
                    entry["fields"].append(column.label)
                if table.keep_years:
                    label = f"{search.system_title} — {table.label}"
                    _keep(entry, label, table.keep_years, table.keep_ground)
    return result


def _entry(result: Found, category: str, system: str) -> dict[str, Any]:
    entry = result.categories.setdefault(category, {"systems": [], "fields": [], "kept": []})
    if system not in entry["systems"]:
        entry["systems"].append(system)
    return entry


def _keep(entry: dict[str, Any], where: str, years: int, ground: str) -> None:
    kept = {"where": where, "years": years, "ground": ground}
    if kept not in entry["kept"]:
        entry["kept"].append(kept)


def supplied(case: Case) -> dict[str, LetterSupplement]:
    """What the officer supplied for this case's letter: the controller's reusable answers in
    the letter's language, then the case's own; the latest of a key wins."""
    answers: dict[str, LetterSupplement] = {}
    kept = Q(reuse=True)
    prepared = (
        case.events.filter(action="prepare_response").order_by("-seq").values_list("at", flat=True)
    ).first()
    if prepared is not None:
        # A response prepared with an answer keeps it when its reuse is stopped later.
        kept |= Q(reuse_stopped_at__gt=prepared, at__lte=prepared)
    reusable = (
        LetterSupplement.objects.filter(kept, controller_id=case.controller_id)
        .filter(language=case.language)
        # Checked for each request, never reused.
        .exclude(Q(key__contains=":disclosed") | Q(key=AUTOMATED_ABOUT_SUBJECT))
        .order_by("pk")
    )
    for item in reusable:
        answers[item.key] = item
    for item in LetterSupplement.objects.filter(case=case).order_by("pk"):
        answers[item.key] = item
    return answers


def _quote(text: str) -> dict[str, str] | None:
    text = (text or "").strip()
    return {"text": text, "lang": STATEMENT_LANGUAGE} if text else None


def _period(category: Any) -> str:
    if not category.retention_amount:
        return ""
    unit = dict(PeriodUnit.choices).get(category.retention_unit, category.retention_unit)
    return f"{category.retention_amount} {unit}"


class _Builder:
    """Reads the registry, the searches and the supplements once; gathers the gaps on the way."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.controller: Controller = case.controller
        self.found = found(case)
        self.answers = supplied(case)
        self.gaps: list[Gap] = []
        # Recipients the register does not name, with where the officer said they are.
        self.unplaced: list[dict[str, Any]] = []

    def answer(self, gap: Gap) -> LetterSupplement | None:
        """The officer's answer to an item, or None (and the item is a gap)."""
        item = self.answers.get(gap.key)
        if item is None or (gap.kind == TEXT and not item.text):
            self.gaps.append(gap)
            return None
        return item

    @staticmethod
    def _said(item: LetterSupplement | None) -> dict[str, str] | None:
        if item is None:
            return None
        return {"text": item.text, "none": item.choice == NONE}

    def categories(self) -> list[dict[str, Any]]:
        bases = dict(LegalBasis.choices)
        out = []
        for category in self.controller.data_categories.all():
            seen = self.found.categories.get(category.name)
            if seen is None:
                continue
            name = category.name
            entry: dict[str, Any] = {
                "name": _quote(name),
                "systems": seen["systems"],
                "fields": seen["fields"],
                "purposes": [_quote(p) for p in category.purposes if p.strip()],
                "bases": [str(bases.get(b, b)) for b in category.legal_bases],
                "period": _period(category),
                "after": _quote(category.retention_after),
                "retention": _quote(category.retention),
                "kept": [
                    {"where": k["where"], "years": k["years"], "ground": _quote(k["ground"])}
                    for k in seen["kept"]
                ],
                "source": _quote(category.source),
            }
            if not entry["purposes"]:
                entry["purposes_supplied"] = self._said(
                    self.answer(
                        Gap(
                            f"category:{name}:purposes",
                            _("the purposes for which “%(category)s” is processed")
                            % {"category": name},
                        )
                    )
                )
            if not entry["bases"]:
                entry["bases_supplied"] = self._said(
                    self.answer(
                        Gap(
                            f"category:{name}:bases",
                            _("the legal basis (Art. 6(1)) of processing “%(category)s”")
                            % {"category": name},
                        )
                    )
                )
            if not entry["period"] and not entry["retention"]:
                entry["retention_supplied"] = self._said(
                    self.answer(
                        Gap(
                            f"category:{name}:retention",
                            _(
                                "how long “%(category)s” is kept, or the criteria that decide "
                                "it (Art. 15(1)(d))"
                            )
                            % {"category": name},
                        )
                    )
                )
            if not entry["source"]:
                entry["source_supplied"] = self._said(
                    self.answer(
                        Gap(
                            f"category:{name}:source",
                            _(
                                "where “%(category)s” comes from: from the subject, or which "
                                "other source (Art. 15(1)(g))"
                            )
                            % {"category": name},
                        )
                    )
                )
            out.append(entry)
        return out

    def recipients(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The recipients of the subject's data, by identity; and those that receive data only on
        occasion, with what the officer found for this subject."""
        entries = {entry["recipient"]: entry for entry in self.controller.notify}
        identities: dict[str, list[Any]] = {}
        for identity in self.controller.recipient_identities.all():
            identities.setdefault(identity.recipient, []).append(identity)
        every = self.found.all_systems or set(
            self.controller.systems.values_list("name", flat=True)
        )
        held = self.found.systems
        standing, occasional = [], []
        for recipient in self.controller.recipients.all():
            entry = entries.get(recipient.name, {})
            receives = set(entry.get("receives") or every)
            if not receives & held:
                continue  # it receives data only of systems that hold none of the subject's
            name = recipient.name
            if entry.get("occasional", "").strip():
                item = self.answer(
                    Gap(
                        f"recipient:{name}:disclosed",
                        _(
                            "whether the subject's data went to “%(recipient)s”, which receives "
                            "data only on occasion (%(occasion)s), and if so to whom"
                        )
                        % {"recipient": name, "occasion": entry["occasional"]},
                        kind=NONE_OR_TEXT,
                        reusable=False,
                    )
                )
                said = self._said(item)
                occasional.append(
                    {
                        "category": _quote(name),
                        "occasion": _quote(entry["occasional"]),
                        "supplied": said,
                    }
                )
                if said is not None and not said["none"]:
                    # It went to someone the statement does not place: where, for Art. 15(2),
                    # is checked with the disclosure, for this request.
                    self._unplaced(recipient, f"recipient:{name}:disclosed", reusable=False)
                continue
            own = identities.get(name, [])
            concerned = [i for i in own if set(i.receives or receives) & held]
            if own and not concerned:
                continue  # none of its identities receives data of the subject's systems
            line: dict[str, Any] = {
                "category": _quote(name),
                "kind": recipient.get_kind_display(),
                "purpose": _quote(recipient.purpose),
                "identities": [self._identity(recipient, i) for i in concerned],
                "supplied": None,
            }
            if not concerned:
                # Named by the officer, not the register: where they are is not known either.
                self._unplaced(recipient, f"recipient:{name}", reusable=True)
                line["supplied"] = self._said(
                    self.answer(
                        Gap(
                            f"recipient:{name}:identity",
                            _(
                                "who “%(recipient)s” is: the names of the recipients of this "
                                "kind (CJEU C-154/21), or add them to the register of "
                                "recipients"
                            )
                            % {"recipient": name},
                        )
                    )
                )
            standing.append(line)
        return standing, occasional

    def _unplaced(self, recipient: Any, key: str, *, reusable: bool) -> None:
        """Art. 15(2) for recipients the register does not name: unless the statement places
        them inside the EEA, the officer says where they are (and under which safeguard), so
        that the letter never says "none outside the EEA" of recipients it knows nothing of."""
        if recipient.outside_eea == Tristate.NO:
            return
        item = self.answer(
            Gap(
                f"{key}:location",
                _(
                    "where the recipients of “%(recipient)s” that received the subject's data "
                    "are established: inside the EEA, or outside it and under which safeguard "
                    "(Art. 15(2))"
                )
                % {"recipient": recipient.name},
                reusable=reusable,
            )
        )
        self.unplaced.append(
            {
                "name": recipient.name,
                "established": "",
                "outside": False,
                "safeguard": None,
                "location_supplied": self._said(item),
                "safeguard_supplied": None,
                "category": _quote(recipient.name),
            }
        )

    def _identity(self, recipient: Any, identity: Any) -> dict[str, Any]:
        line: dict[str, Any] = {
            "name": identity.name,
            "established": identity.established,
            "outside": identity.outside_eea == Tristate.YES,
            "safeguard": None,
            "location_supplied": None,
            "safeguard_supplied": None,
        }
        key = f"identity:{recipient.name}:{identity.name}"
        if identity.outside_eea == Tristate.UNKNOWN:
            line["location_supplied"] = self._said(
                self.answer(
                    Gap(
                        f"{key}:location",
                        _(
                            "where %(name)s (“%(recipient)s”) is established: inside the EEA, or "
                            "outside it and under which safeguard (Art. 15(2))"
                        )
                        % {"name": identity.name, "recipient": recipient.name},
                    )
                )
            )
        elif line["outside"]:
            line["safeguard"] = (
                _quote(identity.safeguard)
                or _quote(recipient.safeguards)
                or _quote(self.controller.eea_transfers)
            )
            if line["safeguard"] is None:
                line["safeguard_supplied"] = self._said(
                    self.answer(
                        Gap(
                            f"{key}:safeguard",
                            _(
                                "the safeguard of the transfer to %(name)s, outside the EEA "
                                "(an adequacy decision, Art. 45, or a safeguard of Art. 46)"
                            )
                            % {"name": identity.name},
                        )
                    )
                )
        return line

    def automated(self) -> dict[str, Any]:
        declared = self.controller.automated_decision_making
        quote = _quote(self.controller.automated_decisions)
        if declared == AutomatedDecisionMaking.NONE:
            return {"none": True, "quote": quote, "supplied": None}
        if declared == AutomatedDecisionMaking.TAKEN:
            # The statement says such decisions are taken; (h) asks whether about this subject,
            # with the logic and consequences: the officer checks, for each request.
            said = self._said(
                self.answer(
                    Gap(
                        AUTOMATED_ABOUT_SUBJECT,
                        _(
                            "whether the decisions based solely on automated processing that "
                            "the statement declares were taken about this subject, and if so the "
                            "logic involved and their consequences (Art. 15(1)(h))"
                        ),
                        kind=NONE_OR_TEXT,
                        reusable=False,
                    )
                )
            )
            return {"none": bool(said and said["none"]), "quote": quote, "supplied": said}
        item = self.answer(
            Gap(
                "automated",
                _(
                    "whether decisions based solely on automated processing, including "
                    "profiling, are taken about the subject (Art. 22), and if so the logic "
                    "involved and its consequences (Art. 15(1)(h))"
                ),
                kind=NONE_OR_TEXT if declared != AutomatedDecisionMaking.TAKEN else TEXT,
            )
        )
        said = self._said(item)
        return {"none": bool(said and said["none"]), "quote": quote, "supplied": said}


def gaps(case: Case) -> list[Gap]:
    """What the letter of this case still needs from the officer, in the officer's language."""
    builder = _Builder(case)
    builder.categories()
    builder.recipients()
    builder.automated()
    return builder.gaps


def supply(
    case: Case,
    key: str,
    *,
    actor: Actor,
    text: str = "",
    none: bool = False,
    reuse: bool = False,
    now: dt.datetime | None = None,
) -> LetterSupplement:
    """The officer supplies one item the letter needs (one of ``gaps``), for this case and, with
    ``reuse``, for the controller's next requests in the case's language. Recorded in the case's
    chain. Refused (nothing changes) for an item that is not missing, an empty answer, a "none"
    where none is not an answer, or a case whose response is no longer being prepared."""
    now = now or timezone.now()
    text = (text or "").strip()
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if locked.state != State.IN_PROGRESS:
            raise ValidationError(
                _("The letter can be completed only while the response is being prepared.")
            )
        # The record says what was supplied in English, as the chain's other events do.
        with override("en"):
            open_gaps = {gap.key: gap for gap in gaps(locked)}
        gap = open_gaps.get(key)
        if gap is None:
            raise ValidationError(_("This item is not missing from the letter (any more)."))
        if none and gap.kind != NONE_OR_TEXT:
            raise ValidationError(_("“None” is not an answer to this item: write it."))
        if not none and not text:
            raise ValidationError(_("Write what the letter should say."))
        if none and text:
            raise ValidationError(_("Either “none” or a text, not both."))
        reuse = reuse and gap.reusable
        item = LetterSupplement.objects.create(
            controller_id=locked.controller_id,
            case=locked,
            key=key,
            language=locked.language,
            choice=NONE if none else "",
            text=text,
            reuse=reuse,
            by=actor.user,
            at=now,
        )
        note(
            locked,
            actor=actor,
            action="letter_item_supplied",
            at=now,
            data={
                "item": gap.what,
                **({"answer": NONE} if none else {"text": text}),
                "reuse": reuse,
            },
        )
    return item


def letter_context(
    case: Case,
    *,
    tables: list[Any],
    withheld: list[dict[str, Any]],
    now: dt.datetime,
    exports: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """What the letter says. ``tables``: the package's tables (what was found, system by
    system); ``exports``: the files a department exported by hand, each ``{"system", "path",
    "name"}``. Built only once ``gaps`` is empty (the response waits for it), so every item is
    said; were one still missing, its place says nothing rather than a placeholder."""
    controller = case.controller
    builder = _Builder(case)
    categories = builder.categories()
    recipients, occasional = builder.recipients()
    automated = builder.automated()
    transfers = [
        {**identity, "category": line["category"]}
        for line in recipients
        for identity in line["identities"]
        # Outside the EEA by the register, or where the officer said where it is.
        if identity["outside"] or identity["location_supplied"]
    ] + builder.unplaced
    declarations = {d.right: d for d in controller.rights.all()}
    rights, last_quote = [], ""
    for right in TOLD_RIGHTS:
        declaration = declarations.get(right)
        offered = declaration is not None and declaration.offer != Offer.NOT_DECLARED
        quote = declaration.quote.strip() if offered else ""
        rights.append(
            {
                "label": str(dict(Right.choices)[right]),
                "article": RIGHT_ARTICLES[right],
                "offered": offered,
                # A passage the statement gives for several rights is quoted once, whole.
                "quote": _quote(quote) if quote != last_quote else None,
                "same_as_above": bool(quote) and quote == last_quote,
                "condition": _quote(declaration.condition) if offered else None,
            }
        )
        last_quote = quote or last_quote
    lead = controller.supervisory_authority
    return {
        "case": case,
        "controller": controller,
        "authority": lead,
        "other_authorities": list(SupervisoryAuthority.objects.exclude(pk=lead.pk)),
        "edpb_members_url": EDPB_MEMBERS_URL,
        "complaint_quote": _quote(controller.complaint_right),
        "categories": categories,
        "recipients": recipients,
        "occasional": occasional,
        "transfers": transfers,
        "automated": automated,
        "rights": rights,
        "tables": tables,
        "exports": exports or [],
        "withheld": withheld,
        "now": now,
        "quotes_in_original": case.language != STATEMENT_LANGUAGE,
        "gaps": builder.gaps,
    }
