"""What each controller has declared in its privacy statement, and who works its requests.

Nothing here is specific to one controller: the five real ones come from their policy files in
``controllers/policies/`` through ``manage.py load_policies`` (see ``controllers/policy.py``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from legalclock import COUNTRY_TIME_ZONES, Deadlines, Period, Unit, compute_deadlines


class Country(models.TextChoices):
    NL = "NL", _("Netherlands")
    BE = "BE", _("Belgium")


class Right(models.TextChoices):
    """The rights a data subject can exercise through a request, in the order of the GDPR."""

    ACCESS = "access", _("Access (Art. 15)")
    RECTIFICATION = "rectification", _("Rectification (Art. 16)")
    ERASURE = "erasure", _("Erasure (Art. 17)")
    RESTRICTION = "restriction", _("Restriction of processing (Art. 18)")
    PORTABILITY = "portability", _("Data portability (Art. 20)")
    OBJECTION = "objection", _("Objection (Art. 21)")
    AUTOMATED_DECISIONS = "automated_decisions", _("Automated decisions (Art. 22)")
    WITHDRAW_CONSENT = "withdraw_consent", _("Withdrawal of consent (Art. 7(3))")


RIGHT_ARTICLES: dict[str, str] = {
    Right.ACCESS: "Art. 15",
    Right.RECTIFICATION: "Art. 16",
    Right.ERASURE: "Art. 17",
    Right.RESTRICTION: "Art. 18",
    Right.PORTABILITY: "Art. 20",
    Right.OBJECTION: "Art. 21",
    Right.AUTOMATED_DECISIONS: "Art. 22",
    Right.WITHDRAW_CONSENT: "Art. 7(3)",
}


class Offer(models.TextChoices):
    OFFERED = "offered", _("Offered")
    CONDITIONAL = "conditional", _("Offered with a condition")
    NOT_DECLARED = "not_declared", _("Not declared")


# The most of any unit a declared period counts (a promise, a retention): 10,000 hours is over a
# year and 10,000 months over 800, so no statement needs more, while any more would overflow a
# 32-bit column or end after the year 9999, where the legal clock cannot count.
MAX_PERIOD_AMOUNT = 10_000


class PeriodUnit(models.TextChoices):
    HOURS = Unit.HOURS.value, _("hours")
    DAYS = Unit.DAYS.value, _("days")
    WEEKS = Unit.WEEKS.value, _("weeks")
    MONTHS = Unit.MONTHS.value, _("months")


class Verification(models.TextChoices):
    EMAIL = "email", _("Confirmation link to the email address")
    ID_DOCUMENT = "id_document", _("Copy of an ID document")
    MATCH_HELD_DATA = "match_held_data", _("Match against data the controller holds")


class MaskField(models.TextChoices):
    """What the subject is told to black out on an ID copy (EDPB 01/2022 §§74–75, KopieID)."""

    PHOTO = "photo", _("passport photo")
    BSN = "bsn", _("citizen service number (BSN)")
    # Belgium's counterpart of the BSN.
    NATIONAL_NUMBER = "national_number", _("national register number (rijksregisternummer)")
    MRZ = "mrz", _("machine-readable zone (MRZ)")
    DOCUMENT_NUMBER = "document_number", _("document number")


class MaskRule(models.TextChoices):
    MAY = "may", _("allowed by the statement")
    MUST = "must", _("required by the statement")


# What every subject is told to black out, whatever the statement lists (EDPB 01/2022 §§74–75):
# the photo, the national identification number of the country, the machine-readable zone and
# the document number.
MASK_ALWAYS: dict[str, list[str]] = {
    "NL": [MaskField.PHOTO, MaskField.BSN, MaskField.MRZ, MaskField.DOCUMENT_NUMBER],
    "BE": [MaskField.PHOTO, MaskField.NATIONAL_NUMBER, MaskField.MRZ, MaskField.DOCUMENT_NUMBER],
}


class LegalBasis(models.TextChoices):
    CONSENT = "consent", _("Consent (Art. 6(1)(a))")
    CONTRACT = "contract", _("Contract (Art. 6(1)(b))")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation (Art. 6(1)(c))")
    VITAL_INTERESTS = "vital_interests", _("Vital interests (Art. 6(1)(d))")
    PUBLIC_TASK = "public_task", _("Public task (Art. 6(1)(e))")
    LEGITIMATE_INTERESTS = "legitimate_interests", _("Legitimate interests (Art. 6(1)(f))")


class RecipientKind(models.TextChoices):
    PROCESSOR = "processor", _("Processor")
    GROUP_COMPANY = "group_company", _("Group company")
    THIRD_PARTY = "third_party", _("Third party")
    AUTHORITY = "authority", _("Public authority")


class AutomatedDecisionMaking(models.TextChoices):
    """What the statement declares of decisions based solely on automated processing (Art.
    22(1)), for Art. 15(1)(h): whether they are taken about the subject, not the right itself."""

    NOT_DECLARED = "", _("not declared")
    NONE = "none", _("none are taken")
    TAKEN = "taken", _("they are taken")


class Tristate(models.TextChoices):
    YES = "yes", _("yes")
    NO = "no", _("no")
    UNKNOWN = "unknown", _("not stated")


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(_("%(value)s is not an IANA time zone"), params={"value": value})


class SupervisoryAuthority(models.Model):
    """Where a subject can complain (Art. 77). Seeded by migration: AP (NL), GBA/APD (BE)."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    website = models.URLField(_("website"), blank=True)
    complaint_url = models.URLField(_("complaint URL"))
    email = models.EmailField(_("email"), blank=True)
    address = models.TextField(_("address"), blank=True)

    class Meta:
        verbose_name = _("supervisory authority")
        verbose_name_plural = _("supervisory authorities")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Controller(models.Model):
    """A company that answers requests, as its privacy statement describes it."""

    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    legal_name = models.CharField(_("legal name"), max_length=200)
    trade_names = models.JSONField(_("trade names"), default=list, blank=True)
    address = models.TextField(_("address"), blank=True)
    registry_kind = models.CharField(
        _("registry"), max_length=10, blank=True, help_text=_("KvK (NL) or KBO (BE)")
    )
    registry_number = models.CharField(_("registry number"), max_length=40, blank=True)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    privacy_emails = models.JSONField(_("privacy contact addresses"), default=list, blank=True)
    postal_address = models.TextField(_("postal address for requests"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    dpo_name = models.CharField(_("data protection officer"), max_length=200, blank=True)
    dpo_email = models.EmailField(_("data protection officer email"), blank=True)
    supervisory_authority = models.ForeignKey(
        SupervisoryAuthority,
        on_delete=models.PROTECT,
        related_name="controllers",
        verbose_name=_("supervisory authority"),
    )
    complaint_right = models.TextField(
        _("right to complain, as stated"), blank=True, help_text=_("Empty: not declared.")
    )
    automated_decisions = models.TextField(
        _("automated decision-making, as stated"), blank=True, help_text=_("Empty: silent.")
    )
    # Whether such decisions are taken at all (the statement's declaration, read from its
    # words): the access letter says so (Art. 15(1)(h)); "" where the statement does not say.
    automated_decision_making = models.CharField(
        _("automated decisions taken"),
        max_length=10,
        choices=AutomatedDecisionMaking.choices,
        blank=True,
    )
    eea_transfers = models.TextField(
        _("transfers outside the EEA, as stated"), blank=True, help_text=_("Empty: silent.")
    )
    statement_date = models.DateField(_("date of the statement"), null=True, blank=True)
    statement_source = models.CharField(_("source of the statement"), max_length=200, blank=True)
    extra_holidays = models.JSONField(
        _("extra non-working days"),
        default=list,
        blank=True,
        help_text=_("ISO dates a royal decree treats as holidays for time limits; off by default."),
    )
    notes = models.TextField(_("notes"), blank=True)
    # Who is told of a rectification, erasure or restriction (Art. 19): the systems file's
    # [[notify]] entries (controllers.systems.format.NOTIFY), loaded with the systems.
    notify = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        verbose_name = _("controller")
        verbose_name_plural = _("controllers")
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return self.legal_name

    def clean(self) -> None:
        if self.country and not self.time_zone:
            self.time_zone = COUNTRY_TIME_ZONES[self.country]

    @property
    def holiday_dates(self) -> list[dt.date]:
        """The extra non-working days as dates (stored as ISO strings, validated on load)."""
        return [dt.date.fromisoformat(day) for day in self.extra_holidays]

    def fields_to_mask(self) -> list[str]:
        """What a subject is told to black out on an ID copy: the country's usual fields, and
        whatever else the statement names, in a fixed order."""
        named = {field for declaration in self.rights.all() for field in declaration.mask_fields}
        wanted = set(MASK_ALWAYS.get(self.country, [])) | named
        return [value for value in MaskField.values if value in wanted]

    def deadlines(
        self, right: str, received: dt.datetime, *, paused_days: int = 0, extended: bool = False
    ) -> Deadlines:
        """The deadlines of a request for ``right`` received at ``received``: the controller's
        own promise where it declares the right, the law's otherwise; suspended days count only
        where the clock may pause."""
        declaration = self.declaration(right)
        offered = declaration is not None and declaration.is_offered
        pauses = declaration.pauses_clock if declaration is not None else True
        return compute_deadlines(
            received,
            country=self.country,
            tz=self.time_zone,
            declared=declaration.promise if offered else None,
            paused_days=paused_days if pauses else 0,
            extended=extended,
            extra_holidays=self.holiday_dates,
        )

    def declaration(self, right: str) -> RightDeclaration | None:
        """The declaration for one right; uses the prefetched set when there is one."""
        for declaration in self.rights.all():
            if declaration.right == right:
                return declaration
        return None


class RightDeclaration(models.Model):
    """One right as the statement declares it: offered or not, how fast, how identity is checked."""

    controller = models.ForeignKey(Controller, on_delete=models.CASCADE, related_name="rights")
    right = models.CharField(_("right"), max_length=30, choices=Right.choices)
    offer = models.CharField(_("declared"), max_length=20, choices=Offer.choices)
    condition = models.TextField(_("condition"), blank=True)
    quote = models.TextField(_("statement's words"), blank=True)
    promise_amount = models.PositiveIntegerField(
        _("promised within"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_PERIOD_AMOUNT)],
    )
    promise_unit = models.CharField(
        _("unit"), max_length=10, choices=PeriodUnit.choices, blank=True
    )
    promise_quote = models.TextField(_("promise, as stated"), blank=True)
    clock_pauses = models.BooleanField(
        _("clock pauses while waiting for the subject"), default=True
    )
    verification = models.CharField(
        _("identity check"), max_length=20, choices=Verification.choices, default="email"
    )
    verification_quote = models.TextField(_("identity rule, as stated"), blank=True)
    # An objection to direct marketing is absolute (Art. 21(3)) and a statement may let it be
    # made more simply than an objection on grounds relating to the subject's situation
    # (smartphoto 3.2: by e-mail, "gratis en zonder motivatie"). Only on the objection; ""
    # where the statement gives no separate rule (the right's own `verification` applies).
    marketing_verification = models.CharField(
        _("identity check for an objection to direct marketing"),
        max_length=20,
        choices=Verification.choices,
        blank=True,
    )
    marketing_verification_quote = models.TextField(
        _("identity rule for direct marketing, as stated"), blank=True
    )
    mask_fields = models.JSONField(_("fields to black out"), default=list, blank=True)
    # Whether the statement lets the subject black them out ("may", Smartlockr) or requires it
    # ("must", Defero); "" where it names none.
    mask_rule = models.CharField(
        _("blacking out is"), max_length=4, choices=MaskRule.choices, blank=True
    )

    class Meta:
        verbose_name = _("declared right")
        verbose_name_plural = _("declared rights")
        constraints = [
            models.UniqueConstraint(fields=["controller", "right"], name="one_declaration_a_right"),
            models.CheckConstraint(
                condition=(
                    models.Q(promise_amount__isnull=True, promise_unit="")
                    | models.Q(promise_amount__gte=1) & ~models.Q(promise_unit="")
                ),
                name="promise_amount_and_unit_together",
            ),
        ]
        ordering = ["controller", "right"]

    def __str__(self) -> str:
        return f"{self.controller}: {self.get_right_display()}"

    @property
    def promise(self) -> Period | None:
        if self.promise_amount is None or not self.promise_unit:
            return None
        return Period(self.promise_amount, Unit(self.promise_unit))

    @property
    def is_offered(self) -> bool:
        return self.offer != Offer.NOT_DECLARED

    @property
    def needs_id_document(self) -> bool:
        """Whether an ID copy is asked. A right the statement does not declare is still the
        subject's, on the law's terms: email confirmation, nothing more (docs/legal.md §3)."""
        return self.is_offered and self.verification == Verification.ID_DOCUMENT

    def verification_for(self, objection_to: str = "") -> str:
        """The identity check of a request of this right. An objection to direct marketing only
        (``objection_to`` "direct_marketing") takes the statement's own rule for it where it
        gives one; an objection that is also to other processing takes the objection's rule
        (that part is what the stricter check is for)."""
        if objection_to == "direct_marketing" and self.marketing_verification:
            return self.marketing_verification
        return self.verification

    def needs_id_document_for(self, objection_to: str = "") -> bool:
        """``needs_id_document`` for a request whose objection is to ``objection_to``."""
        return self.is_offered and self.verification_for(objection_to) == Verification.ID_DOCUMENT

    @property
    def pauses_clock(self) -> bool:
        """Whether the clock stands still while the controller waits for the subject (EDPB
        §159): as declared, and by the law's default where the right is not declared."""
        return self.clock_pauses if self.is_offered else True

    def clean(self) -> None:
        if (self.promise_amount is None) != (not self.promise_unit):
            raise ValidationError(_("A promise needs both an amount and a unit."))
        if self.offer == Offer.CONDITIONAL and not self.condition.strip():
            raise ValidationError({"condition": _("A conditional right names its condition.")})
        unknown = set(self.mask_fields) - set(MaskField.values)
        if unknown:
            raise ValidationError({"mask_fields": _("Unknown fields: %s") % sorted(unknown)})
        if self.mask_rule and not self.mask_fields:
            raise ValidationError({"mask_rule": _("A rule for blacking out names its fields.")})
        if self.marketing_verification and self.right != Right.OBJECTION:
            raise ValidationError(
                {
                    "marketing_verification": _(
                        "Only an objection can concern direct marketing (Art. 21(2))."
                    )
                }
            )


class DataCategory(models.Model):
    controller = models.ForeignKey(
        Controller, on_delete=models.CASCADE, related_name="data_categories"
    )
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("name"), max_length=300)
    examples = models.JSONField(_("examples"), default=list, blank=True)
    purposes = models.JSONField(_("purposes"), default=list, blank=True)
    legal_bases = models.JSONField(_("legal bases"), default=list, blank=True)
    retention = models.TextField(_("retention, as stated"), blank=True)
    retention_amount = models.PositiveIntegerField(
        _("retention period"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_PERIOD_AMOUNT)],
    )
    retention_unit = models.CharField(
        _("unit"), max_length=10, choices=PeriodUnit.choices, blank=True
    )
    retention_after = models.CharField(_("counted from"), max_length=300, blank=True)
    # The statement's words on where the data come from; a statement may name several sources
    # in separate passages (Smart-Site), so text, not one line.
    source = models.TextField(_("source"), blank=True)

    class Meta:
        verbose_name = _("data category")
        verbose_name_plural = _("data categories")
        ordering = ["controller", "position"]

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    controller = models.ForeignKey(Controller, on_delete=models.CASCADE, related_name="recipients")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("name"), max_length=300)
    kind = models.CharField(_("kind"), max_length=20, choices=RecipientKind.choices)
    purpose = models.TextField(_("purpose"), blank=True)
    outside_eea = models.CharField(
        _("outside the EEA"), max_length=10, choices=Tristate.choices, default=Tristate.UNKNOWN
    )
    safeguards = models.TextField(_("transfer safeguards"), blank=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        ordering = ["controller", "position"]

    def __str__(self) -> str:
        return self.name


class RecipientIdentity(models.Model):
    """Who a recipient of the statement is (CJEU C-154/21: the access answer names the actual
    recipients, not only their categories): one company or authority behind a recipient the
    statement names by category ("verwerkers"), with where it is established and, outside the
    EEA, the safeguard of the transfer (Art. 15(2)).

    Loaded from the ``identities`` of the systems file's ``[[notify]]`` entries (a recipient's
    entry), which say which systems' data it receives; editable in the admin (the next
    ``load_systems`` replaces the register with the file's, and ``export_systems`` writes the
    register back, so an edit is kept by exporting)."""

    controller = models.ForeignKey(
        Controller, on_delete=models.CASCADE, related_name="recipient_identities"
    )
    # The statement's recipient (a [[recipients]] name of the policy) this one belongs to; by
    # name, as the systems file refers to it (reloading the policy renews its rows).
    recipient = models.CharField(_("recipient in the statement"), max_length=300)
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("identity (legal name)"), max_length=300)
    established = models.CharField(_("established in"), max_length=300, blank=True)
    outside_eea = models.CharField(
        _("outside the EEA"), max_length=10, choices=Tristate.choices, default=Tristate.UNKNOWN
    )
    safeguard = models.TextField(
        _("transfer safeguard"),
        blank=True,
        help_text=_("Outside the EEA: the adequacy decision or safeguard (Art. 45, 46)."),
    )
    # The systems whose data it receives: none named, those of its recipient's entry.
    receives = models.JSONField(_("receives data of the systems"), default=list, blank=True)

    class Meta:
        verbose_name = _("recipient identity")
        verbose_name_plural = _("recipient identities")
        ordering = ["controller", "position", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Edited in the admin: it belongs to a recipient of the statement, and receives data of
        # the controller's own systems (what the systems file checks on load).
        if self.controller_id is None:
            return
        names = list(self.controller.recipients.values_list("name", flat=True))
        if self.recipient not in names:
            raise ValidationError(
                {
                    "recipient": _("Not a recipient of the statement; one of: %(names)s")
                    % {"names": "; ".join(names) or "-"}
                }
            )
        if not isinstance(self.receives, list) or not all(
            isinstance(name, str) for name in self.receives
        ):
            raise ValidationError({"receives": _("A list of system names.")})
        systems = set(self.controller.systems.values_list("name", flat=True))
        unknown = sorted(set(self.receives) - systems)
        if unknown:
            raise ValidationError(
                {"receives": _("Not systems of the controller: %s") % ", ".join(unknown)}
            )


class PolicyVersion(models.Model):
    """A version of a controller's policy file, as ``dump_policy`` writes it, kept by its hash.

    Each request records the SHA-256 of the policy in force at its receipt in its hash-chained
    "receive" event (``cases.intake.receive_case`` through ``controllers.policy.in_force``);
    this row keeps the text behind that hash, so the auditor's case report can name and carry
    the rules the request was received under even after the registry has changed. Rows are only
    ever added."""

    controller = models.ForeignKey(
        Controller, on_delete=models.CASCADE, related_name="policy_versions"
    )
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    text = models.TextField(_("policy file"))
    recorded_at = models.DateTimeField(_("first recorded"))

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        constraints = [
            models.UniqueConstraint(fields=["controller", "sha256"], name="policy_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.controller_id}:{self.sha256[:12]}"


class SystemKind(models.TextChoices):
    SQL = "sql", _("SQL database")
    HTTP = "http", _("HTTP service")
    MANUAL = "manual", _("Manual task")


class System(models.Model):
    """One of a controller's systems, as its systems file declares it (controllers/systems/).

    The file is the truth: ``spec`` is the system's table from it, checked and in canonical form;
    the connectors read it through ``controllers.systems.spec_of``.
    """

    controller = models.ForeignKey(Controller, on_delete=models.CASCADE, related_name="systems")
    name = models.CharField(_("name"), max_length=50)
    kind = models.CharField(_("kind"), max_length=10, choices=SystemKind.choices)
    title = models.CharField(_("title"), max_length=300)
    position = models.PositiveIntegerField(default=0)
    spec = models.JSONField(default=dict)

    class Meta:
        ordering = ["controller", "position"]
        verbose_name = _("system")
        verbose_name_plural = _("systems")
        constraints = [
            models.UniqueConstraint(fields=["controller", "name"], name="one_system_a_name")
        ]

    def __str__(self) -> str:
        return f"{self.controller.slug}/{self.name}"


class Role(models.TextChoices):
    OFFICER = "officer", _("Privacy officer")
    AUDITOR = "auditor", _("Auditor")


class Membership(models.Model):
    """Ties a staff user to a controller: officers work its requests, auditors only read them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    controller = models.ForeignKey(Controller, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "controller"], name="one_role_a_controller")
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.controller} ({self.get_role_display()})"
