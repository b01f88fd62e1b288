"""The controller registry: the five policy files, their loader and exporter, and bad files."""

from __future__ import annotations

import io
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import tomli_w
from django.conf import settings
from django.core.management import CommandError, call_command

from controllers.models import Controller, MaskField, Offer, Right, Verification
from controllers.policy import dump_policy, load_policy_files, policy_data
from controllers.statements import clean, find_problem, quotes, read_statement, unfaithful_quotes

POLICY_DIR = Path(settings.POLICY_DIR)
# The statements the policies were transcribed from, kept beside them (Dutch originals).
STATEMENTS = POLICY_DIR / "statements"
SHIPPED = ["contractstatus", "defero", "smart-site", "smartlockr", "smartphoto"]
ALL_MASKS = {MaskField.PHOTO, MaskField.MRZ, MaskField.DOCUMENT_NUMBER, MaskField.BSN}


def offered(controller: Controller) -> dict[str, object]:
    return {d.right: d for d in controller.rights.all() if d.is_offered}


def snapshot() -> dict[str, dict]:
    return {c.slug: policy_data(c) for c in Controller.objects.all()}


# --- What the five statements declare, read back from the database.


def test_the_five_controllers_load_from_their_files(loaded_controllers):
    assert set(loaded_controllers) == {
        "smart-site",
        "smartphoto",
        "contractstatus",
        "smartlockr",
        "defero",
    }
    for controller in loaded_controllers.values():
        assert controller.rights.count() == len(Right.values)  # silence is explicit


def test_smartlockr_promises_48_hours_and_asks_an_id_copy_for_access(loaded_controllers):
    controller = loaded_controllers["smartlockr"]
    assert controller.country == "NL" and controller.supervisory_authority.code == "AP"
    assert controller.privacy_emails == ["support@smartlockr.eu"]
    assert controller.dpo_email == "fg@smartlockr.eu"
    rights = offered(controller)
    assert set(rights) == {
        Right.ACCESS,
        Right.RECTIFICATION,
        Right.ERASURE,
        Right.PORTABILITY,
        Right.OBJECTION,
        Right.WITHDRAW_CONSENT,
    }
    for declaration in rights.values():
        assert (declaration.promise_amount, declaration.promise_unit) == (48, "hours")
        assert "48 uur" in declaration.promise_quote
    access = rights[Right.ACCESS]
    assert access.verification == Verification.ID_DOCUMENT
    assert set(access.mask_fields) == ALL_MASKS
    assert "verzoek tot inzage" in access.verification_quote
    # Read literally, the statement asks an ID copy for access only.
    assert {r for r, d in rights.items() if d.verification == Verification.ID_DOCUMENT} == {
        Right.ACCESS
    }


def test_defero_promises_four_weeks_and_asks_an_id_copy_for_access(loaded_controllers):
    controller = loaded_controllers["defero"]
    assert "SMART Websites" in controller.trade_names
    assert controller.privacy_emails == ["privacy@defero.nl"]
    rights = offered(controller)
    assert Right.RESTRICTION not in rights
    for declaration in rights.values():
        assert (declaration.promise_amount, declaration.promise_unit) == (4, "weeks")
    assert rights[Right.ACCESS].verification == Verification.ID_DOCUMENT
    assert set(rights[Right.ACCESS].mask_fields) == ALL_MASKS
    assert rights[Right.ERASURE].verification == Verification.EMAIL
    retention = {
        c.name: (c.retention_amount, c.retention_unit) for c in controller.data_categories.all()
    }
    assert retention["Financiële administratie"] == (84, "months")


def test_smartphoto_is_belgian_conditional_and_asks_an_id_card_for_everything(loaded_controllers):
    controller = loaded_controllers["smartphoto"]
    assert controller.country == "BE" and controller.time_zone == "Europe/Brussels"
    assert controller.supervisory_authority.code == "GBA"
    assert (controller.registry_kind, controller.registry_number) == ("KBO", "0405.706.755")
    rights = offered(controller)
    assert set(rights) == set(Right.values)
    conditional = {r for r, d in rights.items() if d.offer == Offer.CONDITIONAL}
    assert conditional == {Right.ERASURE, Right.RESTRICTION, Right.PORTABILITY, Right.OBJECTION}
    for right in conditional - {Right.OBJECTION}:
        assert "beperkte toezegging" in rights[right].condition
    # 5.3: an objection "wanneer je ernstige en rechtmatige redenen hebt om dit te doen".
    assert rights[Right.OBJECTION].condition == (
        "wanneer je ernstige en rechtmatige redenen hebt om dit te doen"
    )
    id_rights = {r for r, d in rights.items() if d.verification == Verification.ID_DOCUMENT}
    assert id_rights == set(Right.values) - {Right.WITHDRAW_CONSENT}
    assert all(d.promise is None for d in rights.values())


def test_smartphoto_asks_no_id_copy_to_stop_direct_marketing_or_withdraw_consent(
    loaded_controllers,
):
    """3.2: "Je kan je op elk moment, gratis en zonder motivatie verzetten ... door het sturen
    van een e-mail": no ID copy for an objection to direct marketing, nor for withdrawing the
    consent the promotional mail is sent on (Art. 7(3))."""
    controller = loaded_controllers["smartphoto"]
    objection = controller.declaration(Right.OBJECTION)
    assert objection.marketing_verification == Verification.EMAIL
    assert "gratis en zonder motivatie" in objection.marketing_verification_quote
    withdraw = controller.declaration(Right.WITHDRAW_CONSENT)
    assert withdraw.verification == Verification.EMAIL and not withdraw.needs_id_document
    assert "gratis en zonder motivatie" in withdraw.verification_quote


def test_sources_are_transcribed_where_the_statement_speaks(loaded_controllers):
    def sources(slug: str) -> list[str]:
        return [c.source for c in loaded_controllers[slug].data_categories.all()]

    assert all(
        "van jou ontvangen gegevens, maar ook door onszelf verzamelde gegevens" in source
        for source in sources("contractstatus")
    )
    assert all(
        "doordat u gebruik maakt van onze diensten en/of omdat u deze zelf aan ons verstrekt"
        in source
        for source in sources("defero")
    )
    assert all(
        "Van externe leveranciers, services en openbare registers" in source
        for source in sources("smart-site")
    )
    for controller in loaded_controllers.values():
        assert all(c.source for c in controller.data_categories.all()), controller.slug


def test_defero_s_financial_administration_has_its_purpose_and_the_statement_s_retention(
    loaded_controllers,
):
    categories = {c.name: c for c in loaded_controllers["defero"].data_categories.all()}
    financial = categories["Financiële administratie"]
    assert financial.purposes == ["Verzenden van facturen en het afhandelen van uw betalingen"]
    assert financial.retention.endswith("Financiële administratie 7 jaar Wettelijke termijn")
    assert "Wij hanteren de volgende bewaartermijnen" in financial.retention
    assert "Reden:" not in categories["Klanten administratie"].retention


def test_smartphoto_keeps_visit_data_24_hours_after_the_visit_ends_and_stores_in_the_eea(
    loaded_controllers,
):
    controller = loaded_controllers["smartphoto"]
    visit = controller.data_categories.first()
    assert (visit.retention_amount, visit.retention_unit) == (24, "hours")
    assert visit.retention_after == "het einde van jouw bezoek aan de website"
    assert "binnen de Europese Economische Ruimte" in controller.eea_transfers


def test_one_rule_for_a_possible_transfer_and_one_for_the_postal_address(loaded_controllers):
    """A recipient that may be outside the EEA ("mogelijk", "het kan zijn") is unknown, with
    the statement's safeguards; the postal address is the statement's postal channel, else the
    controller's stated address (controllers/policies/README.md)."""
    site = {r.name: r for r in loaded_controllers["smart-site"].recipients.all()}
    suppliers = site["vertrouwde externe leveranciers"]
    assert suppliers.outside_eea == "unknown" and "Europese Commissie" in suppliers.safeguards
    lockr = [r for r in loaded_controllers["smartlockr"].recipients.all() if r.kind == "processor"]
    assert [r.outside_eea for r in lockr] == ["unknown"]
    for controller in loaded_controllers.values():
        assert controller.postal_address, controller.slug
        if controller.slug != "smartphoto":  # smartphoto names a postal box for requests (5.7)
            assert controller.postal_address == controller.address, controller.slug
        assert "postal_address is empty" not in controller.notes


@pytest.mark.parametrize("slug", ["smart-site", "contractstatus"])
def test_statements_without_promise_or_id_rule_get_the_law_s_defaults(loaded_controllers, slug):
    rights = offered(loaded_controllers[slug])
    assert rights
    assert all(d.promise is None for d in rights.values())
    assert all(d.verification == Verification.EMAIL for d in rights.values())


def test_statement_dates_are_transcribed(loaded_controllers):
    assert str(loaded_controllers["smart-site"].statement_date) == "2018-05-25"
    assert str(loaded_controllers["contractstatus"].statement_date) == "2018-05-13"
    assert loaded_controllers["smartlockr"].statement_date is None  # the statement has none


def _with_statement() -> list[Path]:
    """Policies whose statement is kept beside them: their quotes can be checked against it."""
    return [
        path
        for path in sorted(POLICY_DIR.glob("*.toml"))
        if (STATEMENTS / tomllib.loads(path.read_text()).get("statement_source", "-")).is_file()
    ]


def test_the_shipped_policies_keep_their_statements_in_the_repository():
    assert [path.stem for path in _with_statement() if path.stem in SHIPPED] == SHIPPED


@pytest.mark.parametrize("path", _with_statement(), ids=lambda p: p.stem)
def test_every_quote_is_the_statement_s_own_words_never_cut(path):
    """Faithful transcription: each quoted passage stands in the statement, and is not cut
    mid-sentence (a condition, purpose or source mid-clause) (controllers/statements.py)."""
    data = tomllib.loads(path.read_text())
    statement = read_statement(data["statement_source"])
    assert statement
    assert len(list(quotes(data))) > 10
    assert unfaithful_quotes(data, statement) == []


STATEMENT = clean((STATEMENTS / "001_a68122c439b4318f.txt").read_text())


@pytest.mark.parametrize(
    ("passage", "clause", "problem"),
    [
        # Whole sentences, across the extraction's line breaks.
        (
            "Je beschikt eveneens over een recht van verzet tegen de verwerking van jouw "
            "Persoonsgegevens wanneer je ernstige en rechtmatige redenen hebt om dit te doen.",
            False,
            None,
        ),
        # A list item ending in a semicolon; a postal address ending its paragraph.
        (
            "Recht op inzage: je hebt het recht om een kopie op te vragen van jouw "
            "Persoonsgegevens die de onderneming bewaart en verwerkt;",
            False,
            None,
        ),
        (
            "via e-mail naar contact.nl@smartphoto.be of via de post naar: smartphoto group NV "
            "DA 852-809-8 Postbus 4 - 9230 Wetteren - België",
            True,
            None,
        ),
        # Cut at the end, or started mid-sentence.
        ("Je beschikt eveneens over een recht van verzet", False, "cut mid-sentence"),
        ("je ernstige en rechtmatige redenen hebt om dit te doen.", False, "cut mid-sentence"),
        ("wanneer je ernstige en rechtmatige", True, "cut mid-clause"),
        # A clause may start inside its sentence, and end at a comma.
        ("wanneer je ernstige en rechtmatige redenen hebt om dit te doen", True, None),
        ("Je kan ook de volgende rechten uitoefenen met beperkte toezegging", True, None),
        ("met beperkte toezegging, afhankelijk van de wettelijke grond", True, "cut mid-clause"),
        # Words the statement does not have.
        ("Je beschikt over een recht van verzet.", False, "not in the statement"),
    ],
)
def test_the_quote_check_finds_cut_and_invented_quotes(passage, clause, problem):
    assert find_problem(passage, STATEMENT, clause=clause) == problem


# --- Round trip.


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(POLICY_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_export_reproduces_the_policy_file_byte_for_byte(path):
    (controller,) = load_policy_files([path])
    assert dump_policy(controller) == path.read_text(encoding="utf-8")


@pytest.mark.django_db
def test_export_policy_command_writes_a_file_that_loads_back_identically(tmp_path):
    (controller,) = load_policy_files([POLICY_DIR / "smartphoto.toml"])
    before = policy_data(controller)
    target = tmp_path / "out.toml"
    call_command("export_policy", "smartphoto", "--output", str(target))
    out = io.StringIO()
    call_command("export_policy", "smartphoto", stdout=out)
    assert out.getvalue() == target.read_text()
    Controller.objects.all().delete()
    call_command("load_policies", str(target), stdout=io.StringIO())
    assert policy_data(Controller.objects.get(slug="smartphoto")) == before


@pytest.mark.django_db
def test_export_of_an_unknown_controller_is_a_clear_error(loaded_controllers):
    with pytest.raises(CommandError, match=r"no controller 'acme' \(known: .*defero"):
        call_command("export_policy", "acme")


@pytest.mark.django_db
def test_load_policies_loads_every_file_by_default():
    out = io.StringIO()
    call_command("load_policies", stdout=out)
    assert Controller.objects.count() == 5
    assert "loaded smartlockr: Smartlockr B.V." in out.getvalue()


@pytest.mark.django_db
def test_reloading_an_edited_file_updates_the_controller(tmp_path):
    path = tmp_path / "defero.toml"
    data = tomllib.loads((POLICY_DIR / "defero.toml").read_text())
    load_policy_files([POLICY_DIR / "defero.toml"])
    count = Controller.objects.count()
    data["rights"]["access"]["promise"]["amount"] = 2
    data["data_categories"] = data["data_categories"][:1]
    path.write_text(tomli_w.dumps(data))
    load_policy_files([path])
    controller = Controller.objects.get(slug="defero")
    assert controller.declaration("access").promise_amount == 2
    assert controller.data_categories.count() == 1
    assert Controller.objects.count() == count  # updated in place, not added


# --- Bad files: a clear error naming file and key, and nothing changed.


def _mutated(tmp_path: Path, mutate, name: str = "defero.toml") -> Path:
    data = tomllib.loads((POLICY_DIR / "defero.toml").read_text())
    mutate(data)
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data))
    return path


def _set(path: str, value):
    def mutate(data):
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return mutate


BAD = [
    ("rights.access.status", _set("rights.access.status", "maybe"), "'maybe' is not one of"),
    ("rights.restriction", _set("rights.restriction", KeyError), "missing"),
    ("rights.access.promise.unit", _set("rights.access.promise.unit", "fortnights"), "fortnights"),
    ("rights.access.promise.amount", _set("rights.access.promise.amount", 0), "at least 1"),
    ("rights.access.promise.amount", _set("rights.access.promise.amount", "48"), "whole number"),
    # Beyond a 64-bit column, beyond a 32-bit one, and past what the legal clock can count.
    ("rights.access.promise.amount", _set("rights.access.promise.amount", 10**20), "at most 10000"),
    ("rights.access.promise.amount", _set("rights.access.promise.amount", 2**31), "at most 10000"),
    ("rights.access.promise.amount", _set("rights.access.promise.amount", 10_001), "at most 10000"),
    (
        "data_categories[0].retention_period.amount",
        _set(
            "data_categories",
            [{"name": "x", "retention_period": {"amount": 2**63, "unit": "months"}}],
        ),
        "at most 10000",
    ),
    (
        "rights.access.verification",
        _set("rights.access.verification", "dna"),
        "'dna' is not one of",
    ),
    ("rights.access.mask_fields[0]", _set("rights.access.mask_fields", ["face"]), "'face'"),
    ("rights.access.clock_pauses", _set("rights.access.clock_pauses", "yes"), "true or false"),
    ("privacy_emails[0]", _set("privacy_emails", ["not-an-address"]), "not an email address"),
    ("time_zone", _set("time_zone", "Mars/Olympus"), "not an IANA time zone"),
    ("country", _set("country", "DE"), "'DE' is not one of"),
    (
        "rights.erasure.condition",
        _set("rights.erasure.status", "conditional"),
        "names its condition",
    ),
    (
        "rights.restriction.promise",
        _set("rights.restriction.promise", {"amount": 1, "unit": "days"}),
        "no promise",
    ),
    ("legal_name", _set("legal_name", "x" * 301), "at most 300"),
    ("slug", _set("slug", "has spaces"), "letters, digits"),
    ("statement_date", _set("statement_date", "last spring"), "expected a date"),
    ("extra_holidays[0]", _set("extra_holidays", ["2026-02-30"]), "not a date"),
    ("supervisory_authority", _set("supervisory_authority", "CNIL"), "unknown authority"),
    ("colour", _set("colour", "blue"), "unknown key"),
    ("rights.access.promise.quote", _set("rights.access.promise.quote", 48), "expected a string"),
    (
        "data_categories[0].legal_bases[0]",
        _set("data_categories", [{"name": "x", "legal_bases": ["whim"]}]),
        "'whim'",
    ),
    ("schema", _set("schema", 2), "unsupported version"),
    # Only an objection concerns direct marketing (Art. 21(2)): a separate identity rule for it
    # on another right is a transcription error.
    (
        "rights.access.marketing_verification",
        _set("rights.access.marketing_verification", "email"),
        "only an objection concerns direct marketing",
    ),
    (
        "rights.objection.marketing_verification",
        _set("rights.objection.marketing_verification", "sms"),
        "'sms' is not one of",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "mutate", "message"), BAD, ids=[b[0] + ":" + b[2] for b in BAD])
def test_a_bad_file_is_refused_naming_file_and_key_and_changes_nothing(
    loaded_controllers, tmp_path, key, mutate, message
):
    before = snapshot()
    path = _mutated(tmp_path, mutate)
    with pytest.raises(CommandError) as error:
        call_command("load_policies", str(path), stdout=io.StringIO())
    assert str(error.value).startswith(f"{path}: {key}: ")
    assert message in str(error.value)
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"slug = 'x'\n[rights\n", "not valid TOML"),
        (b"\xff\xfe\x00b", "not UTF-8 text"),
        (b"", "schema: missing"),
    ],
)
def test_unreadable_files_are_refused(loaded_controllers, tmp_path, content, message):
    before = snapshot()
    path = tmp_path / "broken.toml"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=re.escape(message)) as error:
        call_command("load_policies", str(path), stdout=io.StringIO())
    assert str(path) in str(error.value)
    assert snapshot() == before


@pytest.mark.django_db
def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=re.escape("nope.toml: cannot read")):
        call_command("load_policies", str(tmp_path / "nope.toml"))


@pytest.mark.django_db
def test_one_bad_file_among_good_ones_loads_none_of_them(tmp_path):
    good = _mutated(tmp_path, _set("legal_name", "Defero Renamed"), "good.toml")
    shutil.copy(POLICY_DIR / "smartlockr.toml", tmp_path / "smartlockr.toml")
    bad = _mutated(tmp_path, lambda d: d.update(slug="other", country="XX"), "bad.toml")
    before = snapshot()
    with pytest.raises(CommandError, match=re.escape("bad.toml: country")):
        call_command("load_policies", str(good), str(tmp_path / "smartlockr.toml"), str(bad))
    assert snapshot() == before
    assert not Controller.objects.filter(legal_name="Defero Renamed").exists()


@pytest.mark.django_db
def test_a_database_failure_midway_rolls_back_every_file(loaded_controllers, tmp_path):
    """Validation passes, the second file fails at the database: the first is rolled back."""
    before = snapshot()
    renamed = _mutated(tmp_path, _set("legal_name", "Defero Renamed"), "first.toml")
    unknown_authority = tmp_path / "second.toml"
    data = tomllib.loads((POLICY_DIR / "smartlockr.toml").read_text())
    data["supervisory_authority"] = "EDPS"
    unknown_authority.write_text(tomli_w.dumps(data))
    with pytest.raises(CommandError, match=re.escape("second.toml: supervisory_authority")):
        call_command("load_policies", str(renamed), str(unknown_authority))
    assert snapshot() == before


@pytest.mark.django_db
def test_two_files_with_the_same_slug_are_refused(tmp_path):
    first = _mutated(tmp_path, lambda d: None, "a.toml")
    second = _mutated(tmp_path, _set("legal_name", "Defero Twice"), "b.toml")
    before = snapshot()
    with pytest.raises(CommandError, match=re.escape("b.toml: slug: 'defero' is also in")):
        call_command("load_policies", str(first), str(second))
    assert snapshot() == before


def test_the_schema_covers_every_field_the_registry_keeps():
    """Declared once: a model field the schema does not name would be neither loaded nor
    exported, silently; a key naming no field would fail at load."""
    from controllers.models import DataCategory, Recipient, RightDeclaration
    from controllers.schema import CATEGORY, POLICY, RECIPIENT, RIGHT

    for model, schema, internal in [
        # notify: loaded from the systems file (controllers.systems), not from the policy.
        (Controller, POLICY, {"id", "notify"}),
        (RightDeclaration, RIGHT, {"id", "controller", "right"}),
        (DataCategory, CATEGORY, {"id", "controller", "position"}),
        (Recipient, RECIPIENT, {"id", "controller", "position"}),
    ]:
        kept = set()
        for key, field in schema.items():
            if field.prefix:
                kept |= {field.prefix + sub for sub in field.schema or {}}
            elif field.stored and field.model is None:
                kept.add(field.attr or key)
        assert kept == {f.name for f in model._meta.concrete_fields} - internal, model


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "value"), [("legal_name", "Defero\x00"), ("notes", "a\x1bb"), ("phone", "06\u202e1")]
)
def test_control_characters_in_a_policy_file_are_refused(loaded_controllers, tmp_path, key, value):
    before = snapshot()
    path = _mutated(tmp_path, _set(key, value))
    with pytest.raises(CommandError, match=f"{key}: contains control or invisible characters"):
        call_command("load_policies", str(path), stdout=io.StringIO())
    assert snapshot() == before


def test_the_transcriptions_corrected_after_the_audit(loaded_controllers):
    smart = loaded_controllers["smart-site"]
    conditions = {d.condition for d in smart.rights.all() if d.is_offered}
    assert {d.offer for d in smart.rights.all() if d.is_offered} == {Offer.CONDITIONAL}
    assert conditions == {
        "Deze rechten zijn echter niet absoluut en kunnen onderhevig zijn aan onze eigen "
        "rechtmatige belangen en wettelijke vereisten."
    }
    for slug in ("smart-site", "smartlockr", "defero", "contractstatus"):
        controller = loaded_controllers[slug]
        assert controller.postal_address and controller.postal_address == controller.address
    lockr = loaded_controllers["smartlockr"]
    assert [r.outside_eea for r in lockr.recipients.all() if r.kind == "processor"] == ["unknown"]
    assert lockr.declaration("access").mask_rule == "may"
    assert loaded_controllers["defero"].declaration("access").mask_rule == "must"


@pytest.mark.django_db
def test_export_policy_shows_the_corrected_declarations(loaded_controllers):
    """issue 21 §4: what export_policy writes is the corrected transcription."""

    def export(slug: str) -> dict:
        out = io.StringIO()
        call_command("export_policy", slug, stdout=out)
        return tomllib.loads(out.getvalue())

    smartphoto = export("smartphoto")
    objection = smartphoto["rights"]["objection"]
    assert objection["status"] == "conditional"
    assert (
        objection["condition"] == "wanneer je ernstige en rechtmatige redenen hebt om dit te doen"
    )
    assert objection["verification"] == "id_document"
    assert objection["marketing_verification"] == "email"
    assert smartphoto["rights"]["withdraw_consent"]["verification"] == "email"
    assert smartphoto["rights"]["access"]["marketing_verification"] == ""
    visit = smartphoto["data_categories"][0]["retention_period"]
    assert visit == {
        "amount": 24,
        "unit": "hours",
        "after": "het einde van jouw bezoek aan de website",
    }
    assert "Europese Economische Ruimte" in smartphoto["eea_transfers"]

    defero = {c["name"]: c for c in export("defero")["data_categories"]}
    financial = defero["Financiële administratie"]
    assert financial["purposes"] == ["Verzenden van facturen en het afhandelen van uw betalingen"]
    assert financial["retention"].endswith("Financiële administratie 7 jaar Wettelijke termijn")
    assert "zelf aan ons verstrekt" in financial["source"]

    contractstatus = export("contractstatus")
    assert contractstatus["postal_address"] == contractstatus["address"]
    assert all(
        "door onszelf verzamelde gegevens" in c["source"] for c in contractstatus["data_categories"]
    )

    site = export("smart-site")
    suppliers = [r for r in site["recipients"] if r["name"] == "vertrouwde externe leveranciers"]
    assert suppliers[0]["outside_eea"] == "unknown"
    assert "openbare registers" in site["data_categories"][0]["source"]


def test_a_direct_marketing_identity_rule_is_for_the_objection_only(loaded_controllers):
    """The admin's form runs the model's clean: the same rule as the loader's."""
    from django.core.exceptions import ValidationError

    access = loaded_controllers["smartphoto"].declaration(Right.ACCESS)
    access.marketing_verification = Verification.EMAIL
    with pytest.raises(ValidationError, match="marketing_verification"):
        access.clean()
    objection = loaded_controllers["smartphoto"].declaration(Right.OBJECTION)
    objection.clean()  # smartphoto's own: e-mail for an objection to direct marketing
