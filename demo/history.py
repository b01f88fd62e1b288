"""A past to report on: months of requests at each demo controller, made through the real path.

``seed`` gives every controller about twenty requests received over the past six
months, in every state: answered on time, answered late, paused for a question, extended,
refused (lawful grounds of ``REFUSAL_GROUNDS`` spread over the five controllers), withdrawn,
expired, and some still open (one overdue). Nothing is written to a table directly: each
request is received by ``cases.intake.receive_case`` (``received_at`` set back) and every later
step is ``cases.workflow.perform`` with ``now=`` set back, taken by whom it would be taken by
(the subject, the controller's demo officer ``officer-<slug>``, the system's expiry sweep). So the
events, their hash chains, suspensions, deadlines, ID copies (stored, then destroyed when
identity is decided) and queued mail are what production would have made.

Design choices, and the reasons for them:

- **Through fulfilment, on the same set-back clock.** Every time fulfilment records comes from
  the step's ``now`` or the ``now=`` of the job or service it runs in, so the history takes its
  requests through it as the workers and the officer would, minutes or office hours after the
  step that asked (``_Story.work``, ``fulfil``): an SQL system's search (``collect.run``) and
  change (``execute.run``, verified) run in-process; the manual system's search and change are
  answered by the officer as its owner said; the processor's API is not called while seeding
  (it may not be running), so the officer records its answer by mail (a search answered by
  hand, a change skipped with the reason); the access letter's missing items are supplied for
  the request only; the package is built, released, downloaded with the mailed code and
  expires; a plan is made, approved by its hash, and the recipients that wait for the officer
  are decided (Art. 19); the completion letter goes out with the response. Nothing is left for a
  worker when the seed commits: it would be dated today. The mix is a real controller's: mostly
  access, then erasure, then two of the other rights and a few automated decisions. Only three
  requests a controller are packaged: each package's letter is a PDF, the dearest thing seeding
  does. The history's subjects are not in the demo systems, so their searches find nothing
  and their erasures change no row: the record and the letters say so.
- **Extensions anywhere in the past.** ``extend``'s condition reads the step's ``now``
  (``Case.step_now``), so a request of months ago was extended within its own first month.
- **Web and email only.** Mail intake and the web form receive as the subject, who confirms
  later (``now=``). A request an officer records from a call or a letter is confirmed by
  ``receive_case`` at the wall clock, so none is seeded by phone or post.
- **Deterministic and idempotent.** The stories and their times are drawn from a generator
  seeded with the controller's slug, relative to the moment of seeding. A seeded request has an
  address at ``history.demo.invalid`` (RFC 2606: never delivered); a controller that has one is
  skipped, so ``make run`` seeds once. Requests are received oldest first across controllers, so
  their references number in the order of receipt.
- **Mail is sent when it was written.** Each step queues its mail as it always does, and the
  story sends it at once, at the step's (set back) time (``cases.mail.deliver(now=)``): a
  decision counts from when its mail left, so a refusal of July must have left in July, not on
  the day ``make run`` first started its worker. The ``.invalid`` addresses keep it from ever
  reaching anyone (``dsar.mailfiles`` writes no file for them).
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify
from faker import Faker
from PIL import Image, ImageDraw

from cases import iddocs
from cases.actors import Actor
from cases.intake import receive_case
from cases.links import CONFIRMATION_MAX_AGE
from cases.mail import deliver
from cases.models import Case, Channel, MailStatus, ObjectionTo, RefusalGround, State
from cases.workflow import perform
from controllers.models import Controller, Right, SystemKind
from fulfilment.changes import execute, plans
from fulfilment.models import ChangeStatus, NoticeStatus, PackageStatus, SearchStatus
from fulfilment.searches import collect, delivery, letter, package
from fulfilment.searches.collect import DATA_RIGHTS

DOMAIN = "history.demo.invalid"
SEED = 2026
# The right answered by text alone: fulfilment has no part in it.
ANSWERED = Right.AUTOMATED_DECISIONS
# The rights asked for now and then, besides access and erasure (two of them a controller).
OTHERS = (
    Right.RECTIFICATION,
    Right.RESTRICTION,
    Right.OBJECTION,
    Right.PORTABILITY,
    Right.WITHDRAW_CONSENT,
)
# Nothing is dated in the last minutes: the seeding itself takes a few seconds.
MARGIN = dt.timedelta(minutes=5)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
# What an officer ticks when approving an ID copy (the step's checklist, kept in its event).
CHECKLIST = {"checklist": {"name_matches": True, "masked": True}}

# The demo's texts, in the request's language.
Text = dict[str, str]
DETAILS: dict[str, Text] = {
    Right.ACCESS: {
        "nl": "Graag ontvang ik een kopie van alle persoonsgegevens die u van mij verwerkt, met "
        "de doelen en de ontvangers.",
        "en": "Please send me a copy of all personal data you hold about me, with the purposes "
        "and the recipients.",
    },
    Right.RECTIFICATION: {
        "nl": "Mijn achternaam staat verkeerd gespeld in uw administratie; wilt u dat aanpassen?",
        "en": "My surname is misspelt in your records; please correct it.",
    },
    Right.ERASURE: {
        "nl": "Ik ben geen klant meer. Verwijder alstublieft al mijn gegevens.",
        "en": "I am no longer a customer. Please erase all my data.",
    },
    Right.RESTRICTION: {
        "nl": "Gebruik mijn gegevens niet meer zolang mijn klacht over uw dienst loopt.",
        "en": "Please stop using my data while my complaint about your service is pending.",
    },
    Right.PORTABILITY: {
        "nl": "Ik stap over en wil mijn gegevens in een machineleesbaar bestand ontvangen.",
        "en": "I am switching providers and would like my data in a machine-readable file.",
    },
    Right.OBJECTION: {
        "nl": "Ik maak bezwaar tegen het gebruik van mijn gegevens voor analyses en profilering.",
        "en": "I object to the use of my data for analytics and profiling.",
    },
    Right.AUTOMATED_DECISIONS: {
        "nl": "Neemt u automatisch beslissingen over mij, bijvoorbeeld over welke aanbiedingen "
        "ik krijg of of ik achteraf mag betalen? Ik wil weten welke logica u gebruikt en wat de "
        "gevolgen voor mij zijn.",
        "en": "Do you take automated decisions about me, for example about the offers I get or "
        "whether I may pay later? I would like to know the logic involved and what it means "
        "for me.",
    },
    Right.WITHDRAW_CONSENT: {
        "nl": "Ik trek mijn toestemming in voor de nieuwsbrief en voor het bewaren van mijn "
        "gegevens na afloop van mijn bestelling.",
        "en": "I withdraw my consent to the newsletter and to keeping my data after my order.",
    },
}
# The officer's response, by right (the package, the completion letter say the rest).
RESPONSES: dict[str, Text] = {
    Right.ACCESS: {
        "nl": "Wij hebben al onze systemen naar uw gegevens doorzocht. U ontvangt een link naar "
        "uw gegevens; de brief erbij zegt wat wij van u verwerken, waarom en met wie.",
        "en": "We searched all our systems for your data. You will receive a link to your "
        "data; the letter with it says what we process about you, why and with whom.",
    },
    Right.PORTABILITY: {
        "nl": "U ontvangt een link naar de gegevens die u ons heeft verstrekt, in een "
        "machineleesbaar bestand.",
        "en": "You will receive a link to the data you provided to us, in a machine-readable file.",
    },
    Right.ERASURE: {
        "nl": "Wij hebben uw gegevens verwijderd, behalve wat de wet ons verplicht te bewaren; "
        "de brief erbij zegt wat, waar en tot wanneer.",
        "en": "We erased your data, except what the law obliges us to keep; the letter with "
        "this says what, where and until when.",
    },
    Right.RECTIFICATION: {
        "nl": "Wij hebben uw gegevens verbeterd zoals u vroeg.",
        "en": "We corrected your data as you asked.",
    },
    Right.RESTRICTION: {
        "nl": "Wij gebruiken uw gegevens niet meer zolang uw klacht loopt; wij bewaren ze wel.",
        "en": "We no longer use your data while your complaint is pending; we do keep it.",
    },
    Right.OBJECTION: {
        "nl": "Wij gebruiken uw gegevens niet meer voor analyses en profilering.",
        "en": "We no longer use your data for analytics and profiling.",
    },
    Right.WITHDRAW_CONSENT: {
        "nl": "Wij hebben uw toestemming ingetrokken en de verwerking die erop rustte gestopt.",
        "en": "We recorded the withdrawal of your consent and stopped the processing it covered.",
    },
}
# The officer's own words in the record, in the request's language.
BY_HAND: Text = {
    "nl": "Gezocht door de eigenaar van het systeem; niets van deze persoon gevonden.",
    "en": "Searched by the system's owner; nothing of this person found.",
}
PROCESSOR_ANSWERED: Text = {
    "nl": "De verwerker antwoordde per e-mail: geen gegevens van dit adres in het logboek.",
    "en": "The processor answered by email: no data of this address in its log.",
}
PROCESSOR_SKIPPED: Text = {
    "nl": "De verwerker bevestigde per e-mail dat hij geen gegevens van dit adres heeft.",
    "en": "The processor confirmed by email that it holds no data of this address.",
}
OWNER_CONFIRMED: Text = {
    "nl": "De eigenaar bevestigde per e-mail: niets van deze persoon in het systeem.",
    "en": "The owner confirmed by email: nothing of this person in the system.",
}
RECIPIENT_DECIDED: Text = {
    "nl": "Navraag bij de afdeling: aan deze ontvanger zijn geen gegevens van deze persoon "
    "verstrekt.",
    "en": "Checked with the department: no data of this person went to this recipient.",
}
CORRECTED: Text = {"nl": "Jansen-de Vries", "en": "Jansen-de Vries"}
LETTER_ITEM: Text = {
    "nl": "Zoals in onze privacyverklaring beschreven, voor de uitvoering van de overeenkomst.",
    "en": "As our privacy statement describes, to perform the contract.",
}
RESPONSE: Text = {
    "nl": "Wij nemen geen besluiten over u die uitsluitend op geautomatiseerde verwerking "
    "berusten en die rechtsgevolgen hebben of u in aanmerkelijke mate treffen (art. 22 AVG). "
    "Wel bepalen eenvoudige regels welke aanbiedingen u per e-mail ontvangt (op grond van uw "
    "eerdere bestellingen); daar kijkt een medewerker naar en u kunt er altijd bezwaar tegen "
    "maken.",
    "en": "We take no decisions about you based solely on automated processing that have legal "
    "effects on you or similarly significantly affect you (Art. 22 GDPR). Simple rules do "
    "decide which offers you receive by email (based on your earlier orders); a member of staff "
    "reviews them and you may object to them at any time.",
}
QUESTION: Text = {
    "nl": "Om welke beslissing gaat het, en onder welk e-mailadres of klantnummer kent u ons?",
    "en": "Which decision do you mean, and under which address or customer number do we know you?",
}
REPLY: Text = {
    "nl": "Het gaat om de afwijzing van mijn aanvraag van vorige maand; ik ben klant onder dit "
    "e-mailadres.",
    "en": "It is about my application that was turned down last month; I am a customer under "
    "this address.",
}
EXTENSION: Text = {
    "nl": "Uw vraag raakt meerdere afdelingen en een externe dienstverlener, die wij moeten "
    "raadplegen; daarvoor hebben wij meer tijd nodig (art. 12 lid 3 AVG).",
    "en": "Your question concerns several departments and an outside provider we must consult; "
    "we need more time for that (Art. 12(3) GDPR).",
}
UNREADABLE: Text = {
    "nl": "De kopie van uw identiteitsbewijs is niet leesbaar. Wilt u een nieuwe sturen? U mag "
    "uw foto en uw BSN of rijksregisternummer afschermen.",
    "en": "The copy of your ID document cannot be read. Could you send a new one? You may black "
    "out your photo and your national number.",
}
MISMATCH: Text = {
    "nl": "De naam op het identiteitsbewijs komt niet overeen met de naam van de aanvrager.",
    "en": "The name on the ID document does not match the name of the person asking.",
}
# A refusal's reasons (told to the subject), by the right refused and the ground.
REASONS: dict[tuple[str, str], Text] = {
    (Right.ERASURE, RefusalGround.ERASURE_LEGAL_CLAIMS): {
        "nl": "Uw gegevens zijn nodig voor een lopend geschil over uw contract; zolang dat loopt, "
        "bewaren wij ze (art. 17 lid 3 onder e AVG). Daarna verwijderen wij ze.",
        "en": "Your data is needed for a pending dispute about your contract; we keep it while "
        "it lasts (Art. 17(3)(e) GDPR) and erase it afterwards.",
    },
    (Right.AUTOMATED_DECISIONS, RefusalGround.UNFOUNDED_OR_EXCESSIVE): {
        "nl": "Dit is uw zesde gelijkluidende verzoek in twee maanden; wij hebben de eerdere "
        "volledig beantwoord en er is sindsdien niets veranderd (art. 12 lid 5 AVG).",
        "en": "This is your sixth identical request in two months; we answered the earlier ones "
        "in full and nothing has changed since (Art. 12(5) GDPR).",
    },
    (Right.RECTIFICATION, RefusalGround.DATA_ACCURATE): {
        "nl": "Uw achternaam staat in onze administratie precies zoals op uw overeenkomst en op "
        "uw facturen; de gegevens zijn juist en er valt niets te verbeteren (art. 16 AVG).",
        "en": "Your surname is in our records exactly as on your contract and your invoices; the "
        "data is accurate and there is nothing to correct (Art. 16 GDPR).",
    },
    (Right.RESTRICTION, RefusalGround.RESTRICTION_CONDITIONS): {
        "nl": "U betwist de juistheid van uw gegevens niet, de verwerking is rechtmatig en wij "
        "hebben ze nog nodig: aan de voorwaarden van art. 18 lid 1 AVG is niet voldaan.",
        "en": "You do not contest the accuracy of your data, the processing is lawful and we "
        "still need it: the conditions of Art. 18(1) GDPR are not met.",
    },
    (Right.ERASURE, RefusalGround.ERASURE_LEGAL_OBLIGATION): {
        "nl": "Uw facturen moeten wij zeven jaar bewaren voor de belastingdienst (art. 52 AWR); "
        "zolang die plicht loopt, verwijderen wij ze niet (art. 17 lid 3 onder b AVG).",
        "en": "We must keep your invoices for seven years for the tax authority (art. 52 AWR); "
        "while that duty runs we do not erase them (Art. 17(3)(b) GDPR).",
    },
    (Right.OBJECTION, RefusalGround.COMPELLING_GROUNDS): {
        "nl": "Wij gebruiken uw gegevens om misbruik van het platform op te sporen; dat belang "
        "weegt zwaarder dan de bijzondere situatie die u beschrijft (art. 21 lid 1 AVG). Voor "
        "direct marketing gebruiken wij uw gegevens niet.",
        "en": "We use your data to detect abuse of the platform; that interest overrides the "
        "particular situation you describe (Art. 21(1) GDPR). We do not use your data for "
        "direct marketing.",
    },
    (Right.ERASURE, RefusalGround.CANNOT_IDENTIFY): {
        "nl": "Wij verwerken geen gegevens die wij aan dit e-mailadres kunnen koppelen en kunnen "
        "u daardoor niet identificeren (art. 11 lid 2 AVG). Geeft u ons meer gegevens, dan "
        "kijken wij opnieuw.",
        "en": "We process no data we can link to this address, so we cannot identify you "
        "(Art. 11(2) GDPR). If you give us more details, we will look again.",
    },
    (Right.PORTABILITY, RefusalGround.PORTABILITY_NOT_PROVIDED): {
        "nl": "U vraagt om de klantscores en kortingsprofielen die wij zelf afleiden; dat zijn "
        "geen gegevens die u ons heeft verstrekt (art. 20 lid 1 AVG). Met een inzageverzoek "
        "ontvangt u er wel een kopie van.",
        "en": "You ask for the customer scores and discount profiles we derive ourselves; they "
        "are not data you provided to us (Art. 20(1) GDPR). An access request gives you a copy "
        "of them.",
    },
}
# Art. 12(5): what shows a request manifestly unfounded or excessive, kept in the record.
EVIDENCE: Text = {
    "nl": "Zes gelijkluidende verzoeken van dit adres sinds twee maanden; de vijf eerdere zijn "
    "volledig en op tijd beantwoord.",
    "en": "Six identical requests from this address in two months; the five earlier ones were "
    "answered in full and on time.",
}


@dataclass(frozen=True)
class Refusal:
    """One refusal a controller's history holds."""

    right: str
    ground: str
    # "refuse" (the officer's step), or "reject_identity" after a second copy was asked for.
    via: str = "refuse"
    late: bool = False  # after the month in which a refusal is due (Art. 12(4))


# The grounds spread over the five demo controllers, each on a right it fits.
REFUSALS: dict[str, tuple[Refusal, ...]] = {
    "contractstatus": (
        Refusal(Right.ERASURE, RefusalGround.ERASURE_LEGAL_CLAIMS),
        Refusal(Right.AUTOMATED_DECISIONS, RefusalGround.UNFOUNDED_OR_EXCESSIVE, late=True),
    ),
    "defero": (
        Refusal(Right.ACCESS, RefusalGround.IDENTITY_NOT_CONFIRMED, via="reject_identity"),
        Refusal(Right.RECTIFICATION, RefusalGround.DATA_ACCURATE),
    ),
    "smart-site": (
        Refusal(Right.RESTRICTION, RefusalGround.RESTRICTION_CONDITIONS),
        Refusal(Right.ERASURE, RefusalGround.ERASURE_LEGAL_OBLIGATION),
    ),
    # The objection is to profiling on legitimate interests (the subject says so at intake),
    # not to direct marketing: it may be refused on compelling grounds (Art. 21(1), (3)).
    "smartlockr": (
        Refusal(Right.OBJECTION, RefusalGround.COMPELLING_GROUNDS),
        Refusal(Right.ERASURE, RefusalGround.CANNOT_IDENTIFY),
    ),
    "smartphoto": (
        Refusal(Right.PORTABILITY, RefusalGround.PORTABILITY_NOT_PROVIDED),
        # Not a withdrawal of consent: smartphoto asks no ID copy for it (3.2, Art. 7(3)).
        Refusal(Right.RESTRICTION, RefusalGround.IDENTITY_NOT_CONFIRMED, via="reject_identity"),
    ),
}
# A controller added later (a policy file is data) gets one refusal a ground fits anywhere.
DEFAULT_REFUSALS = (Refusal(Right.AUTOMATED_DECISIONS, RefusalGround.UNFOUNDED_OR_EXCESSIVE),)


def seeded_cases(controller: Controller | None = None) -> QuerySet[Case]:
    """The requests ``seed`` made (of one controller), by their address."""
    cases = Case.objects.filter(email__iendswith="@" + DOMAIN)
    return cases.filter(controller=controller) if controller is not None else cases


@dataclass(frozen=True)
class Planned:
    """One request of the history, before it is made: when it arrives and how it goes on."""

    controller: Controller
    story: str  # the name of a function of ``STORIES``
    right: str
    received_at: dt.datetime
    channel: str
    language: str
    name: str
    email: str
    refusal: Refusal | None = None


def plan(controller: Controller, now: dt.datetime) -> list[Planned]:
    """The requests of one controller's history, oldest first; the same for the same ``now``."""
    rng = random.Random(f"{SEED}:{controller.slug}")
    fake = Faker("nl_BE" if controller.country == "BE" else "nl_NL")
    fake.seed_instance(f"{SEED}:{controller.slug}")
    zone = ZoneInfo(controller.time_zone)
    access_needs_id = _needs_id(controller, Right.ACCESS)
    others = rng.sample(OTHERS, 2)
    # (story, right, days ago, spread in days either side)
    stories: list[tuple[str, str, float, float, Refusal | None]] = [
        # Access, the right most asked for: searched, packaged, released and downloaded. (Each
        # package's letter is a PDF: the most expensive thing seeding does, so three of them.)
        ("answered", Right.ACCESS, 168, 8, None),
        ("answered", Right.ACCESS, 92, 8, None),
        ("extended", Right.ACCESS, 128, 10, None),
        ("overdue", Right.ACCESS, 55, 6, None),
        ("extended_open", Right.ACCESS, 24, 2, None),
        # Erasure next: planned, approved, carried out and verified, its recipients told.
        ("answered", Right.ERASURE, 150, 10, None),
        ("answered", Right.ERASURE, 80, 10, None),
        ("answered_late", Right.ERASURE, 115, 8, None),
        ("answered_late", Right.ERASURE, 62, 6, None),
        # The other rights, now and then.
        ("answered", others[0], 125, 10, None),
        ("answered", others[1], 70, 10, None),
        ("withdrawn", Right.OBJECTION, 95, 20, None),
        # Automated decisions, answered by text: one after a question, one still waiting, one
        # ready to be sent.
        ("paused", ANSWERED, 122, 12, None),
        ("waiting", ANSWERED, 6, 1.5, None),
        ("ready", ANSWERED, 17, 2, None),
        ("expired", rng.choice([Right.ACCESS, Right.ERASURE]), 75, 30, None),
        ("unconfirmed", rng.choice([Right.ACCESS, Right.RECTIFICATION]), 1.6, 0.6, None),
    ]
    if access_needs_id:
        # The identity check, open: a copy under review, and one asked for again.
        stories.append(("under_review", Right.ACCESS, 2.5, 1, None))
        stories.append(("awaiting_identity", Right.ACCESS, 10, 2, None))
    refusals = REFUSALS.get(controller.slug, DEFAULT_REFUSALS)
    for number, refusal in enumerate(refusals):
        _check_refusal(controller, refusal)
        ago = 60 if refusal.late else (135 if number % 2 == 0 else 50)
        stories.append(("refused", refusal.right, ago, 8, refusal))
    planned = []
    used: set[str] = set()
    limit = now - MARGIN
    for story, right, ago, spread, refusal in stories:
        middle = now - dt.timedelta(days=ago + rng.uniform(-spread, spread))
        # When a subject writes: from seven in the morning to eleven at night, their time.
        received = _within_hours(rng, middle - 10 * HOUR, min(middle + 10 * HOUR, limit), zone)
        needs_id = _needs_id(controller, right)
        # Mail intake brings no ID copy; where one is needed, the request came by the web form.
        channel = Channel.EMAIL if not needs_id and rng.random() < 0.25 else Channel.WEB
        # Mail intake receives in Dutch; the web form in the visitor's language.
        language = "en" if channel == Channel.WEB and rng.random() < 0.2 else "nl"
        first, last = fake.first_name(), fake.last_name()
        local = f"{slugify(first)}.{slugify(last)}".replace("-", "")
        address = f"{local}@{DOMAIN}"
        suffix = 2
        while address in used:  # two fakes of one name: a number, as mail providers do
            address, suffix = f"{local}{suffix}@{DOMAIN}", suffix + 1
        used.add(address)
        planned.append(
            Planned(
                controller=controller,
                story=story,
                right=right,
                received_at=received,
                channel=channel,
                language=language,
                name=f"{first} {last}",
                email=address,
                refusal=refusal,
            )
        )
    return sorted(planned, key=lambda p: p.received_at)


def _needs_id(controller: Controller, right: str) -> bool:
    declaration = controller.declaration(right)
    return declaration is not None and declaration.needs_id_document


def _check_refusal(controller: Controller, refusal: Refusal) -> None:
    if refusal.via == "reject_identity" and not _needs_id(controller, refusal.right):
        raise ValueError(
            f"{controller.slug}: asks no ID copy for {refusal.right}; an identity it rejects "
            "needs a right whose rule asks for one"
        )
    if (refusal.right, refusal.ground) not in REASONS and refusal.via == "refuse":
        raise ValueError(f"no reasons written for refusing {refusal.right} on {refusal.ground}")


def seed() -> dict[str, int]:
    """Seed the history of every controller that has none yet; returns how many requests each
    got. Its officer ``officer-<slug>`` must exist (``setup_demo`` creates it first).

    The history ends now, by the wall clock (less a margin: seeding takes a while).
    """
    now = timezone.now()
    User = get_user_model()
    todo = []
    # Its declarations read once: each story asks whether its right needs an ID copy.
    for controller in Controller.objects.order_by("slug").prefetch_related("rights"):
        if seeded_cases(controller).exists():
            continue
        officer = User.objects.filter(username=f"officer-{controller.slug}").first()
        if officer is None:
            raise ValueError(
                f"no demo officer officer-{controller.slug}: create the accounts first"
            )
        todo.extend((planned, officer) for planned in plan(controller, now))
    made: dict[str, int] = {}
    # One transaction: what a hook leaves for after commit (mail, a plan) finds the history
    # complete, and a failure leaves no half history that would be skipped next time.
    with transaction.atomic():
        for planned, officer in sorted(todo, key=lambda item: item[0].received_at):
            _Story(planned, officer, now - MARGIN).tell()
            made[planned.controller.slug] = made.get(planned.controller.slug, 0) + 1
    return made


def _within_hours(
    rng: random.Random,
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
    *,
    hours: tuple[int, int] = (7, 23),
    weekdays: Iterable[int] = range(7),
) -> dt.datetime:
    """A moment between ``start`` and ``end`` within the given local hours on the given days;
    halfway when the span holds none (a step that could not wait for Monday)."""
    if end <= start:
        return start
    windows = []
    day = start.astimezone(zone).date()
    while day <= end.astimezone(zone).date():
        if day.weekday() in weekdays:
            opens = dt.datetime.combine(day, dt.time(hours[0]), tzinfo=zone)
            closes = dt.datetime.combine(day, dt.time(hours[1]), tzinfo=zone)
            low, high = max(opens, start), min(closes, end)
            if low < high:
                windows.append((low, high))
        day += DAY
    if not windows:
        return start + (end - start) / 2
    low, high = rng.choice(windows)
    return (low + (high - low) * rng.random()).astimezone(dt.UTC)


def id_copy(rng: random.Random) -> iddocs.CheckedDocument:
    """A scan of an ID card with everything but the name blacked out, as the form takes it."""
    image = Image.new("RGB", (340, 214), (226, 232, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((18, 40, 110, 170), fill=(20, 20, 20))  # the photo, masked
    draw.rectangle((130, 48, 130 + rng.randrange(120, 190), 62), fill=(60, 60, 90))  # the name
    draw.rectangle((130, 150, 320, 196), fill=(20, 20, 20))  # the MRZ, masked
    out = io.BytesIO()
    image.save(out, format="PNG")
    return iddocs.check_document(out.getvalue())


class _Story:
    """One request told from receipt: each step through the workflow, at its own moment."""

    def __init__(self, planned: Planned, officer: Any, limit: dt.datetime) -> None:
        self.planned = planned
        self.controller = planned.controller
        self.officer_actor = Actor.officer(officer)
        self.limit = limit
        self.zone = ZoneInfo(self.controller.time_zone)
        self.rng = random.Random(f"{SEED}:{planned.email}")
        self.language = planned.language
        self.clock = planned.received_at
        self.case: Case

    # --- Time.

    def office(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        """When an officer acts: a working day, nine to half past five, their time."""
        end = min(end, self.limit)
        return _within_hours(self.rng, start, end, self.zone, hours=(9, 17), weekdays=range(5))

    def awake(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        """When the subject acts."""
        return _within_hours(self.rng, start, min(end, self.limit), self.zone)

    @property
    def deadline(self) -> dt.datetime:
        return self.case.effective_deadline

    # --- Steps.

    def receive(self) -> None:
        planned = self.planned
        needs_id = _needs_id(self.controller, planned.right)
        self.case = receive_case(
            controller=self.controller,
            right=planned.right,
            name=planned.name,
            email=planned.email,
            language=planned.language,
            details=DETAILS[planned.right][planned.language],
            channel=planned.channel,
            received_at=planned.received_at,
            # The web form asks for the copy with the request where the statement wants one.
            id_document=id_copy(self.rng) if needs_id else None,
            # An objection to profiling (DETAILS), on the subject's particular situation.
            objection_to=ObjectionTo.PARTICULAR_SITUATION
            if planned.right == Right.OBJECTION
            else "",
        )
        self.send(planned.received_at)

    def at(self, moment: dt.datetime, what: str) -> dt.datetime:
        """The moment of the next thing that happens: after the last, never after now."""
        moment = max(moment, self.clock + MINUTE)
        if moment > self.limit:
            raise ValueError(f"{self.planned.story}: {what} would happen after now ({moment})")
        self.clock = moment
        return moment

    def take(self, step: str, actor: Actor, at: dt.datetime, **arguments: Any) -> None:
        at = self.at(at, step)
        self.case = perform(self.case, step, actor=actor, now=at, **arguments)
        self.send(at)
        self.work()

    def send(self, at: dt.datetime) -> None:
        """Send the mail the step queued, at the step's time (the worker would find it sent)."""
        for mail_id in self.case.outgoing_mail.filter(status=MailStatus.QUEUED).values_list(
            "pk", flat=True
        ):
            deliver(mail_id, now=at)
        self.case.refresh_from_db()

    # --- Fulfilment: what the workers and the officer do between the steps.

    def work(self) -> None:
        """What the workers do minutes after a step, as the step asked them (after its commit):
        the searches it started, the plan of changes it asked for, the package to build. Left
        undone, a worker would do it when the seed commits, dated today."""
        case = self.case
        for search in case.searches.filter(status=SearchStatus.PENDING):
            if search.kind == SystemKind.SQL:
                collect.run(search.pk, now=self.at(self.clock + 2 * MINUTE, "a search"))
        if (
            case.right in plans.CHANGE_RIGHTS
            and case.right != Right.RECTIFICATION  # its plan waits for the corrections
            and plans.plannable(case, case.right)
            and not case.plans.exists()
        ):
            plans.make(case, actor=Actor.system(), now=self.at(self.clock + 3 * MINUTE, "a plan"))
        for built in case.packages.filter(status=PackageStatus.BUILDING):
            package.build(built.pk, now=self.at(self.clock + 2 * MINUTE, "a package"))
        self.send(self.clock)

    def answer_searches(self, end: dt.datetime) -> None:
        """The officer answers the searches no worker runs: a manual system's (its owner
        searched), and the processor's, whose API the history does not call (it answered the
        officer by mail). Neither holds the history's subjects."""
        for search in self.case.searches.filter(
            status__in=(SearchStatus.PENDING, SearchStatus.MANUAL)
        ):
            words = BY_HAND if search.kind == SystemKind.MANUAL else PROCESSOR_ANSWERED
            collect.answer_manually(
                search,
                actor=self.officer_actor,
                found=False,
                note_text=words[self.language],
                now=self.at(self.office(self.clock + HOUR, end), "a manual answer"),
            )

    def supply_letter(self, end: dt.datetime) -> None:
        """What the access letter needs that the statement does not say, this request only."""
        for gap in letter.gaps(self.case):
            none = gap.kind == letter.NONE_OR_TEXT
            letter.supply(
                self.case,
                gap.key,
                actor=self.officer_actor,
                none=none,
                text="" if none else LETTER_ITEM[self.language],
                now=self.at(self.office(self.clock + 10 * MINUTE, end), "a letter item"),
            )

    def carry_out(self, end: dt.datetime) -> None:
        """A right that changes data: the plan reviewed and approved by its hash, its changes
        run in the SQL systems (verified there), the manual and the processor's confirmed by
        mail, and the recipients the officer must decide on decided (Art. 19)."""
        case = self.case
        officer = self.officer_actor
        if case.right == Right.RECTIFICATION and not case.plans.exists():
            system, table, column, _label = plans.rectifiable(case)[0]
            plans.add_correction(
                case,
                actor=officer,
                system=system,
                table=table,
                column=column,
                value=CORRECTED[self.language],
                now=self.at(self.office(self.clock + HOUR, end), "a correction"),
            )
            plans.make(case, actor=officer, now=self.at(self.clock + 5 * MINUTE, "a plan"))
        plan = plans.current(case)
        assert plan is not None, case.reference
        self.officer("approve_plan", self.office(self.clock + HOUR, end), plan=plan.sha256)
        for job in plan.changes.order_by("pk"):
            if job.status == ChangeStatus.PENDING and job.kind == SystemKind.SQL:
                execute.run(job.pk, now=self.at(self.clock + 2 * MINUTE, "a change"))
            elif job.status == ChangeStatus.MANUAL:
                execute.confirm_manual(
                    job,
                    actor=officer,
                    note_text=OWNER_CONFIRMED[self.language],
                    found=False,
                    now=self.at(self.office(self.clock + HOUR, end), "a manual change"),
                )
            elif job.status == ChangeStatus.PENDING:
                execute.skip(
                    job,
                    actor=officer,
                    reason=PROCESSOR_SKIPPED[self.language],
                    now=self.at(self.office(self.clock + HOUR, end), "a skip"),
                )
        for notice in plan.notices.filter(status=NoticeStatus.UNRESOLVED).order_by("pk"):
            execute.decide(
                notice,
                actor=officer,
                decision=execute.NOT_DISCLOSED,
                note_text=RECIPIENT_DECIDED[self.language],
                now=self.at(self.office(self.clock + 10 * MINUTE, end), "a recipient decided"),
            )
        self.send(self.clock)

    def download(self) -> None:
        """The subject asks for a code, types it from the mail, and downloads the package; the
        link expires days later (the beat's sweep)."""
        released = package.package_of(self.case)
        if released is None or released.status != PackageStatus.RELEASED:
            return
        asked = self.at(self.awake(self.clock + HOUR, self.clock + 3 * DAY), "a download")
        delivery.send_code(released, now=asked)
        mail = self.case.outgoing_mail.get(kind="download_code", status=MailStatus.QUEUED)
        code = mail.context["secret_code"]
        self.send(asked)
        typed = self.at(self.clock + 2 * MINUTE, "a download")
        if not delivery.check_code(released, code, now=typed):
            raise ValueError(f"{self.planned.story}: the download code was refused")
        for _chunk in delivery.download(released, now=typed) or ():
            pass
        released.refresh_from_db()
        assert released.expires_at is not None
        expiry = released.expires_at + self.rng.uniform(1, 10) * MINUTE
        if expiry <= self.limit:
            package.expire(now=self.at(expiry, "an expiry"))

    def subject(self, step: str, at: dt.datetime, **arguments: Any) -> None:
        self.take(step, Actor.subject(), at, **arguments)

    def officer(self, step: str, at: dt.datetime, **arguments: Any) -> None:
        self.take(step, self.officer_actor, at, **arguments)

    def confirm(self) -> None:
        # The link in the confirmation mail, clicked within minutes or by the evening.
        self.subject("confirm_email", self.awake(self.clock + 3 * MINUTE, self.clock + 9 * HOUR))

    def settle_identity(self) -> None:
        if self.case.state == State.IDENTITY_REVIEW:
            self.officer(
                "approve_identity",
                self.office(self.clock + HOUR, self.clock + 2 * DAY),
                record=CHECKLIST,
            )

    def open(self) -> None:
        self.receive()
        self.confirm()
        self.settle_identity()

    @property
    def response(self) -> str:
        return RESPONSES.get(self.case.right, RESPONSE)[self.language]

    def fulfil(self, end: dt.datetime) -> None:
        """What the right asks of the systems, done by ``end`` (as far as the office hours
        allow): the searches no worker runs answered, the access letter completed; or the
        changes planned, approved, carried out and the recipients decided."""
        case = self.case
        if case.right in DATA_RIGHTS and case.searches.exists():
            self.answer_searches(end)
            if case.right == Right.ACCESS:
                self.supply_letter(end)
        elif case.right in plans.CHANGE_RIGHTS and case.controller.systems.exists():
            self.carry_out(end)

    def respond(self, *, late: bool = False, until: dt.datetime | None = None) -> None:
        """Do what the right asks, prepare the answer and approve it: on time (by ``until``,
        default the deadline), or days after the deadline; a package is downloaded."""
        if late:
            start, end = self.deadline + 2 * DAY, self.deadline + 18 * DAY
        else:
            until = until or self.deadline
            # A day's work at least, unless the deadline is closer than that (a fast promise).
            start = self.clock + min(DAY, (until - self.clock) / 3)
            end = until - 2 * HOUR
        self.fulfil(self.clock + (end - self.clock) / 2)
        prepared = self.office(max(start, self.clock + 10 * MINUTE), end)
        if late:
            sent = self.office(prepared + 10 * MINUTE, prepared + DAY)
        else:
            assert until is not None
            sent = self.office(prepared + 10 * MINUTE, min(prepared + DAY, until - MINUTE))
        self.officer("prepare_response", prepared, response=self.response)
        self.officer("complete", sent, partial_ground="", partial_reason="", message="")
        self.download()

    def ask(self, start: dt.datetime, end: dt.datetime) -> None:
        self.officer("ask_subject", self.office(start, end), message=QUESTION[self.language])

    def extend(self, start: dt.datetime, end: dt.datetime) -> None:
        self.officer("extend", self.office(start, end), reason=EXTENSION[self.language], message="")

    # --- The stories.

    def tell(self) -> None:
        STORIES[self.planned.story](self)


def _answered(story: _Story) -> None:
    story.open()
    story.respond()


def _answered_late(story: _Story) -> None:
    story.open()
    story.respond(late=True)


def _paused(story: _Story) -> None:
    """A question, answered a week or so later: the clock stood still meanwhile."""
    story.open()
    story.ask(story.clock + DAY, story.clock + 5 * DAY)
    story.subject(
        "answer",
        story.awake(story.clock + 3 * DAY, story.clock + 12 * DAY),
        message=REPLY[story.language],
    )
    story.respond()


def _extended(story: _Story) -> None:
    """Extended within the first month, answered after the month it would have had."""
    story.open()
    story.extend(story.clock + 2 * DAY, story.clock + 10 * DAY)
    story.respond(until=story.deadline)


def _extended_open(story: _Story) -> None:
    story.open()
    story.fulfil(story.clock + 3 * DAY)
    story.extend(story.limit - 6 * DAY, story.limit - DAY)


def _withdrawn(story: _Story) -> None:
    """The subject thought better of it a few days after confirming."""
    story.receive()
    story.confirm()
    story.subject("withdraw", story.awake(story.clock + DAY, story.clock + 8 * DAY))


def _expired(story: _Story) -> None:
    """Never confirmed: the beat's sweep (every ten minutes) expires it after the link's days."""
    story.receive()
    due = story.clock + CONFIRMATION_MAX_AGE
    story.take("expire", Actor.system(), due + story.rng.uniform(1, 10) * MINUTE)


def _overdue(story: _Story) -> None:
    """In progress, its deadline long past: what the officer's queue and the report flag. The
    systems were searched; the response was never prepared."""
    story.open()
    story.fulfil(story.clock + 5 * DAY)


def _waiting(story: _Story) -> None:
    """Asked, without undue delay, which decision the request is about: the clock pauses to
    clarify it (EDPB 01/2022 §159), and the subject has not answered yet."""
    story.open()
    story.ask(story.clock + HOUR, min(story.clock + 2 * DAY, story.limit - HOUR))


def _ready(story: _Story) -> None:
    story.open()
    story.fulfil(story.limit - 3 * DAY)
    story.officer(
        "prepare_response",
        story.office(story.limit - 3 * DAY, story.limit - HOUR),
        response=story.response,
    )


def _unconfirmed(story: _Story) -> None:
    story.receive()


def _under_review(story: _Story) -> None:
    story.receive()
    story.confirm()


def _awaiting_identity(story: _Story) -> None:
    story.receive()
    story.confirm()
    story.officer(
        "ask_identity",
        story.office(story.clock + HOUR, story.clock + 2 * DAY),
        message=UNREADABLE[story.language],
    )


def _refused(story: _Story) -> None:
    refusal = story.planned.refusal
    assert refusal is not None
    language = story.language
    story.receive()
    story.confirm()
    if refusal.via == "reject_identity":
        # The first copy unreadable, the second of someone else.
        story.officer(
            "ask_identity",
            story.office(story.clock + HOUR, story.clock + 2 * DAY),
            message=UNREADABLE[language],
        )
        story.subject(
            "submit_identity",
            story.awake(story.clock + DAY, story.clock + 5 * DAY),
            id_document=id_copy(story.rng),
        )
        story.officer(
            "reject_identity",
            story.office(story.clock + HOUR, story.clock + 3 * DAY),
            reason=MISMATCH[language],
            message="",
        )
        return
    story.settle_identity()
    if story.planned.right in DATA_RIGHTS:
        # Searched before the refusal: the searches no worker runs are answered first.
        story.answer_searches(story.clock + 2 * DAY)
    notice_by = story.case.notice_by
    if refusal.late:
        at = story.office(notice_by + 2 * DAY, notice_by + 12 * DAY)
    else:
        due = min(story.deadline, notice_by)
        at = story.office(story.clock + HOUR, min(story.clock + 8 * DAY, due - HOUR))
    story.officer(
        "refuse",
        at,
        ground=refusal.ground,
        reason=REASONS[refusal.right, refusal.ground][language],
        evidence=EVIDENCE[language]
        if refusal.ground == RefusalGround.UNFOUNDED_OR_EXCESSIVE
        else "",
        message="",
    )


STORIES: dict[str, Callable[[_Story], None]] = {
    "answered": _answered,
    "answered_late": _answered_late,
    "paused": _paused,
    "extended": _extended,
    "extended_open": _extended_open,
    "withdrawn": _withdrawn,
    "expired": _expired,
    "overdue": _overdue,
    "waiting": _waiting,
    "ready": _ready,
    "unconfirmed": _unconfirmed,
    "under_review": _under_review,
    "awaiting_identity": _awaiting_identity,
    "refused": _refused,
}
