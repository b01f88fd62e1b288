"""The controllers' systems files: the five shipped ones, their loader and exporter, bad files."""

from __future__ import annotations

import copy
import dataclasses
import io
import sqlite3
import tomllib
from pathlib import Path

import pytest
import tomli_w
from django.conf import settings
from django.core.management import CommandError, call_command

from controllers.models import System, SystemKind
from controllers.policy import PolicyError
from controllers.systems import (
    KIND_SCHEMAS,
    SystemSpec,
    dump_systems,
    load_systems_files,
    spec_of,
    systems_data,
    validate_systems,
)
from controllers.systems.checks import _CHECKS
from controllers.systems.format import NOTIFY, Key
from fulfilment.systems.connectors.sql import check_database, index_warnings

pytestmark = pytest.mark.django_db

SYSTEMS_DIR = Path(settings.SYSTEMS_DIR)
SHIPPED = ["contractstatus", "defero", "smart-site", "smartlockr", "smartphoto"]


def shipped(slug: str) -> dict:
    return tomllib.loads((SYSTEMS_DIR / f"{slug}.toml").read_text())


@pytest.mark.parametrize("slug", SHIPPED)
def test_each_shipped_file_loads_and_exports_byte_for_byte(systems, slug):
    controller = systems[slug]
    assert dump_systems(controller) == (SYSTEMS_DIR / f"{slug}.toml").read_text()


def test_the_demo_has_every_kind_of_system(systems):
    kinds = set(System.objects.values_list("kind", flat=True))
    assert kinds == {"sql", "http", "manual"}
    assert System.objects.filter(controller__slug="defero", kind="manual").exists()
    assert System.objects.filter(controller__slug="smartlockr", kind="http").exists()


def test_every_column_names_a_category_of_its_controller_s_policy(systems):
    for system in System.objects.select_related("controller"):
        categories = set(system.controller.data_categories.values_list("name", flat=True))
        assert set(spec_of(system.spec).all_categories) <= categories, system


def test_export_command_writes_a_file_that_loads_back(systems, tmp_path):
    target = tmp_path / "defero.toml"
    call_command("export_systems", "defero", "--output", str(target))
    before = systems_data(systems["defero"])
    call_command("load_systems", str(target), "--no-check", stdout=io.StringIO())
    assert systems_data(systems["defero"]) == before
    with pytest.raises(CommandError, match="no controller 'acme'"):
        call_command("export_systems", "acme")


def _system(**changes) -> dict:
    data = copy.deepcopy(shipped("smartphoto"))
    system = data["systems"][0]
    for path, value in changes.items():
        target = system
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return data


DELETE = object()
BAD = {
    "unknown-key": ({"colour": "red"}, "systems[0].colour", "unknown key"),
    "missing-key": ({"url_env": DELETE}, "systems[0].url_env", "missing"),
    "bad-kind": ({"kind": "ftp"}, "systems[0].kind", "expected one of"),
    "unreachable-table": (
        {"tables__1__reached_from": DELETE},
        "systems[0].tables[1]",
        "cannot be reached from an identity column",
    ),
    "link-to-nowhere": (
        {"tables__1__reached_from__table": "customers_old"},
        "reached_from.table",
        "not another table",
    ),
    "unknown-category": (
        {"tables__0__columns__1__category": "Schoenmaat"},
        "columns[1].category",
        "'Schoenmaat' is not a data category of the policy (its categories: 'Gegevens met "
        "betrekking tot jouw gebruik van de website zonder registratie', 'Gegevens met "
        "betrekking tot jouw smartphoto-account',",
    ),
    "key-not-a-column": ({"tables__0__key": "uuid"}, "tables[0].key", "not a column"),
    "identity-not-a-column": (
        {"tables__0__identities__email": "mail"},
        "tables[0].identities.email",
        "not a column",
    ),
    "credentials-in-demo-url": (
        {"demo_url": "postgresql://shop:hunter2@db/shop"},
        "systems[0].demo_url",
        "no credentials in the file",
    ),
    "unknown-placeholder": ({"demo_url": "sqlite:///{home}/x.db"}, "demo_url", "placeholder"),
    "env-name": ({"url_env": "lower case"}, "systems[0].url_env", "environment variable"),
    "sql-injection-in-a-name": (
        {"tables__0__name": "accounts; DROP TABLE accounts"},
        "tables[0].name",
        "SQL identifier",
    ),
    "keep-without-ground": (
        {"tables__2__erasure": "keep", "tables__2__keep_ground": ""},
        "tables[2].keep_ground",
        "names its legal ground",
    ),
    "kept-under-a-deleted-parent": (
        {"tables__2__erasure": "keep", "tables__2__keep_ground": "Art. 17(3)(b)"},
        "tables[2].erasure",
        "would lose the 'accounts' row",
    ),
    "link-kept-to-a-deleted-parent": (
        {"tables__1__columns__1__erasure": "pseudonymise"},
        "tables[1].reached_from.column",
        "erase 'account_id' with \"null\"",
    ),
    "restriction-flag-not-an-identifier": (
        {"tables__0__restriction__column": "restricted; drop table accounts"},
        "tables[0].restriction.column",
        "SQL identifier",
    ),
    "set-without-a-column": (
        {"tables__0__objection": {"action": "set", "value": "0"}},
        "tables[0].objection.column",
        '"set" names the column',
    ),
    "delete-with-a-column": (
        {"tables__0__withdrawal": {"action": "delete", "column": "newsletter"}},
        "tables[0].withdrawal.column",
        "takes no column",
    ),
    "withdrawal-is-not-marketing": (
        {"tables__0__withdrawal": {"action": "delete", "marketing": True}},
        "tables[0].withdrawal.marketing",
        "only an objection",
    ),
    "retention-beyond-reason": ({"tables__1__keep_years": 500}, "keep_years", "at most 100"),
    # Kept orders lose their account (unlinked): found by their keys, until their retention ends.
    "findable-without-retention": (
        {"tables__1__keep_years": DELETE},
        "tables[1].keep_years",
        "a later access request finds them by their keys: say how long they are kept",
    ),
    "unknown-action": (
        {"tables__0__objection": {"action": "archive"}},
        "objection.action",
        "is not one of delete, set",
    ),
    "column-erasure-without-update": (
        {"tables__0__columns__1__erasure": "null"},
        "columns[1].erasure",
        '"update"',
    ),
    "update-without-columns": ({"tables__0__erasure": "update"}, "tables[0].erasure", "names"),
    "duplicate-column": (
        {"tables__0__columns__2__name": "email"},
        "columns[2].name",
        "declared twice",
    ),
    "restriction-two-ways": (
        {"tables__2__restriction": {"via": "parent", "cannot": "Kan niet."}},
        "tables[2].restriction",
        "exactly one of column",
    ),
    "restriction-no-way": ({"tables__2__restriction": {}}, "tables[2].restriction", "exactly one"),
    "restricted-via-no-parent": (
        {"tables__0__restriction": {"via": "parent"}},
        "tables[0].restriction.via",
        "only a table reached_from a parent",
    ),
    "restricted-via-with-identities-of-its-own": (
        {"tables__2__identities": {"email": "title"}},
        "tables[2].restriction.via",
        "identities of its own needs its own flag",
    ),
    "restricted-via-a-parent-without-a-flag": (
        {"tables__0__restriction": DELETE},
        "tables[2].restriction.via",
        "no table it is reached from has a restriction flag of its own (albums -> accounts)",
    ),
    "restricted-via-a-parent-that-cannot": (
        {"tables__2__restriction": {"cannot": "Geen markering."}},
        "tables[3].restriction.via",
        "(photos -> albums)",
    ),
    "flag-without-its-value": (
        {"tables__0__restriction__value": DELETE},
        "tables[0].restriction.value",
        "names the value it writes",
    ),
    "a-value-without-a-flag": (
        {"tables__2__restriction": {"via": "parent", "lifted": "0"}},
        "tables[2].restriction.value",
        "only a flag",
    ),
    "an-action-that-does-not-say-what-it-stops": (
        {"tables__0__objection__processing": DELETE},
        "tables[0].objection.processing",
        "say which processing it stops",
    ),
    "an-identity-declared-anonymous": (
        {"tables__0__columns__1__anonymous": True},
        "tables[0].columns[1].anonymous",
        "cannot be anonymous",
    ),
    "a-link-declared-anonymous": (
        {"tables__2__columns__1__anonymous": True},
        "tables[2].columns[1].anonymous",
        "cannot be anonymous",
    ),
    "timeout": ({"timeout_seconds": 99999}, "timeout_seconds", "at most 3600"),
    "timeout-beyond-a-bigint": ({"timeout_seconds": 2**64}, "timeout_seconds", "at most 3600"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_is_refused_with_file_key_and_fault(systems, case):
    changes, key, message = BAD[case]
    categories = systems["smartphoto"].data_categories.values_list("name", flat=True)
    with pytest.raises(PolicyError) as error:
        validate_systems(_system(**changes), "smartphoto.toml", categories)
    assert key in error.value.key and message in error.value.message, str(error.value)


def test_a_link_loop_is_refused(systems):
    data = _system()
    tables = data["systems"][0]["tables"]
    tables[0]["identities"] = {}
    tables[0]["reached_from"] = {"table": "albums", "column": "id", "parent_column": "account_id"}
    with pytest.raises(PolicyError, match="the links loop"):
        validate_systems(data, "smartphoto.toml")


def test_an_http_system_checks_every_row_against_the_identity(systems):
    data = copy.deepcopy(shipped("smartlockr"))
    data["systems"][1]["tables"][0]["identities"] = {}
    with pytest.raises(PolicyError, match="checked against the identity"):
        validate_systems(data, "smartlockr.toml")


def test_a_bad_file_among_good_ones_changes_nothing(systems, tmp_path):
    before = {s.pk: s.spec for s in System.objects.all()}
    good = tmp_path / "smart-site.toml"
    good.write_text(tomli_w.dumps(_system(title="Changed") | {"controller": "smart-site"}))
    bad = tmp_path / "smartphoto.toml"
    bad.write_text(tomli_w.dumps(_system(kind="ftp")))
    with pytest.raises(PolicyError):
        load_systems_files([good, bad])
    assert {s.pk: s.spec for s in System.objects.all()} == before


def test_the_command_reports_a_bad_file_and_an_unknown_controller(systems, tmp_path):
    unknown = tmp_path / "acme.toml"
    unknown.write_text(tomli_w.dumps(_system() | {"controller": "acme"}))
    with pytest.raises(CommandError, match=r"acme\.toml: controller: no controller .acme."):
        call_command("load_systems", str(unknown))
    broken = tmp_path / "broken.toml"
    broken.write_text("schema = [")
    with pytest.raises(CommandError, match=r"broken\.toml: not valid TOML"):
        call_command("load_systems", str(broken))


def test_a_system_dropped_from_the_file_leaves_the_registry(systems, tmp_path):
    data = copy.deepcopy(shipped("defero"))
    data["systems"] = data["systems"][:1]
    # The accountant's identity names the dropped system: it goes with it.
    for entry in data["notify"]:
        entry["identities"] = [
            i
            for i in entry.get("identities", [])
            if "financiele-administratie" not in i["receives"]
        ]
    path = tmp_path / "defero.toml"
    path.write_text(tomli_w.dumps(data))
    load_systems_files([path])
    assert list(systems["defero"].systems.values_list("name", flat=True)) == [
        "klantenadministratie"
    ]


WEBSITE = """
    CREATE TABLE leads (id INTEGER PRIMARY KEY, name, email, phone, company, message,
                        ip_address, created_at, restricted);
    CREATE TABLE newsletter (id INTEGER PRIMARY KEY, email, name, subscribed_at,
                             confirmed_ip, unsubscribed_at);
    CREATE INDEX newsletter_email ON newsletter (lower(email));
    CREATE INDEX leads_phone ON leads (phone);
"""


def _website(folder: Path, script: str = WEBSITE) -> None:
    """Smart-Site's website database, as its systems file's demo_url finds it under ``folder``."""
    (folder / "systems").mkdir(exist_ok=True)
    db = sqlite3.connect(folder / "systems" / "smart-site-website.sqlite3")
    db.executescript(script)
    db.close()


def test_the_loader_warns_where_an_identity_column_has_no_index(tmp_path, settings, systems):
    settings.VAR_DIR = tmp_path
    _website(tmp_path)
    spec = spec_of(shipped("smart-site")["systems"][0])
    assert index_warnings(spec) == [
        "table leads: no index on lower(email): every search reads the whole table"
    ]
    err = io.StringIO()
    call_command(
        "load_systems", str(SYSTEMS_DIR / "smart-site.toml"), stdout=io.StringIO(), stderr=err
    )
    assert "website: table leads: no index on lower(email)" in err.getvalue()


@pytest.mark.parametrize(
    ("script", "faults"),
    [
        (
            WEBSITE.replace("company, message", "message").replace(", restricted", ""),
            [
                "systems[0].tables[0].columns[4].name (system 'website'): "
                "table 'leads' has no column 'company'",
                "systems[0].tables[0].restriction.column (system 'website'): "
                "table 'leads' has no column 'restricted'",
            ],
        ),
        (
            WEBSITE.replace(", unsubscribed_at", ""),
            [
                "systems[0].tables[1].columns[5].name (system 'website'): "
                "table 'newsletter' has no column 'unsubscribed_at'",
                "systems[0].tables[1].objection.column (system 'website'): "
                "table 'newsletter' has no column 'unsubscribed_at'",
                "systems[0].tables[1].withdrawal.column (system 'website'): "
                "table 'newsletter' has no column 'unsubscribed_at'",
            ],
        ),
        (
            WEBSITE.split("CREATE TABLE newsletter")[0],
            ["systems[0].tables[1] (system 'website'): the database has no table 'newsletter'"],
        ),
    ],
    ids=["columns", "flag-columns", "table"],
)
def test_a_declared_table_or_column_the_database_lacks_refuses_the_file(
    tmp_path, settings, systems, script, faults
):
    settings.VAR_DIR = tmp_path
    _website(tmp_path, script)
    before = {s.pk: s.spec for s in System.objects.all()}
    edited = tmp_path / "smart-site.toml"
    edited.write_text(tomli_w.dumps(shipped("smart-site") | {"schema": 1}).replace("Website", "X"))
    with pytest.raises(CommandError) as error:
        call_command("load_systems", str(edited), stdout=io.StringIO())
    message = str(error.value)
    # The file, then every fault with its place in the file, its system, table and column.
    assert message.startswith(f"{edited}: the database lacks what the file declares")
    assert [line.strip() for line in message.splitlines()[1:]] == faults
    assert {s.pk: s.spec for s in System.objects.all()} == before
    # Without the check, the same file loads (its searches would then fail, naming the column).
    call_command("load_systems", str(edited), "--no-check", stdout=io.StringIO())
    assert System.objects.get(controller__slug="smart-site").title == "X en nieuwsbrief"


def test_a_database_that_cannot_be_reached_is_said_and_the_file_loads(tmp_path, settings, systems):
    settings.VAR_DIR = tmp_path  # no database there
    out, err = io.StringIO(), io.StringIO()
    call_command("load_systems", str(SYSTEMS_DIR / "smart-site.toml"), stdout=out, stderr=err)
    assert "loaded the systems of smart-site: website (sql)" in out.getvalue()
    assert (
        f"warning: {SYSTEMS_DIR / 'smart-site.toml'}: website: not checked against the "
        f"database: no SQLite database at {tmp_path / 'systems' / 'smart-site-website.sqlite3'}"
    ) in err.getvalue()


SECRET = "hunter2-Zq9"
SECRET_URLS = [
    f"postgresql://db.example/diensten?password={SECRET}",
    f"postgresql://db.example/diensten?sslmode=require&sslpassword={SECRET}",
    f"postgresql://db.example/diensten?passfile=/home/{SECRET}/.pgpass",
    f"postgresql://db.example/diensten?sslkey=/keys/{SECRET}.key",
    f"postgresql://db.example/diensten?PASSWORD={SECRET}",
    f"postgresql://db.example/diensten?pass%77ord={SECRET}",  # percent-encoded name
    f"postgresql://shop:{SECRET}@db.example/shop",
    f"postgresql://:{SECRET}@db.example/shop",
    f"mysql+pymysql://db.example/x?auth_token={SECRET}",
    f"https://api.example/dsr?api_key={SECRET}",
    f"https://api.example/dsr?access-token={SECRET}",
    f"https://api.example/dsr?X-Amz-Signature={SECRET}",
    f"https://api.example/dsr?sig={SECRET}",
    f"https://{SECRET}@api.example/dsr",
    f"https://api.example/dsr?{SECRET}token",  # a bare parameter: maybe the secret itself
    f"{{processor}}/dsr?client_secret={SECRET}",
]


@pytest.mark.parametrize("url", SECRET_URLS)
@pytest.mark.parametrize("key", ["demo_url", "demo_files"])
def test_a_secret_anywhere_in_a_url_is_refused_without_repeating_it(systems, tmp_path, url, key):
    data = _system(**{key: url})
    with pytest.raises(PolicyError) as error:
        validate_systems(data, "smartphoto.toml")
    assert error.value.key == f"systems[0].{key}"
    assert "no credentials in the file" in error.value.message
    assert SECRET not in str(error.value) and SECRET.lower() not in str(error.value).lower()
    # The command refuses it the same way, stores nothing, and so cannot export it.
    path = tmp_path / "smartphoto.toml"
    path.write_text(tomli_w.dumps(data))
    with pytest.raises(CommandError) as refused:
        call_command("load_systems", str(path), "--no-check", stdout=io.StringIO())
    assert SECRET not in str(refused.value)
    assert SECRET not in dump_systems(systems["smartphoto"])


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://readonly@db.example/diensten?sslmode=verify-full&connect_timeout=5",
        "postgresql://db.example/diensten?application_name=dsar&sslrootcert=/etc/ca.pem",
        "sqlite:///{var}/systems/x.sqlite3?mode=ro",
        "{processor}/dsr",
    ],
)
def test_a_url_without_a_secret_is_accepted(systems, url):
    validate_systems(_system(demo_url=url), "smartphoto.toml")


NOTIFY_BAD = {
    "told-and-not": (
        {
            "recipient": "verwerkers",
            "email": "a@example.org",
            "unreachable": "why",
            "exception": "impossible",
        },
        "notify[0]",
        "cannot be told (unreachable) has no email or system",
    ),
    "no-way": ({"recipient": "verwerkers"}, "notify[0]", "give one way to tell it"),
    "only-what-it-receives": (
        {"recipient": "verwerkers", "receives": ["webshop"]},
        "notify[0]",
        "give one way to tell it",
    ),
    "an-exception-without-its-name": (
        {"recipient": "verwerkers", "unreachable": "Too hard."},
        "notify[0].exception",
        "impossible or disproportionate_effort",
    ),
    "an-exception-without-a-reason": (
        {"recipient": "verwerkers", "email": "a@example.org", "exception": "impossible"},
        "notify[0].unreachable",
        "an exception says why",
    ),
    "an-exception-the-law-does-not-know": (
        {"recipient": "verwerkers", "unreachable": "No.", "exception": "not_worth_it"},
        "notify[0].exception",
        "",
    ),
    "receives-from-an-unknown-system": (
        {"recipient": "verwerkers", "email": "a@example.org", "receives": ["crm"]},
        "notify[0].receives[0]",
        "'crm' is not a system of this file",
    ),
    "not-an-http-system": (
        {"recipient": "verwerkers", "system": "webshop"},
        "notify[0].system",
        "not an HTTP system",
    ),
    "not-a-recipient": (
        {"recipient": "de buren", "email": "a@example.org"},
        "notify[0].recipient",
        "not a recipient of the policy (its recipients: 'vennootschappen die rechtstreeks",
    ),
    "bad-address": (
        {"recipient": "verwerkers", "email": "not an address"},
        "notify[0].email",
        "",
    ),
}


@pytest.mark.parametrize("case", list(NOTIFY_BAD))
def test_a_bad_notify_entry_is_refused(systems, case):
    entry, key, message = NOTIFY_BAD[case]
    data = _system()
    data["notify"] = [entry]
    recipients = systems["smartphoto"].recipients.values_list("name", flat=True)
    with pytest.raises(PolicyError) as error:
        validate_systems(data, "smartphoto.toml", recipients=recipients)
    assert key in error.value.key and message in error.value.message, str(error.value)


def test_a_recipient_named_twice_is_refused(systems):
    data = _system()
    data["notify"] = [{"recipient": "verwerkers", "email": "a@example.org"}] * 2
    with pytest.raises(PolicyError, match="named twice"):
        validate_systems(data, "smartphoto.toml")


def test_an_http_system_is_asked_through_its_api_not_written_to(systems):
    # A rectifiable field of a processor: its API takes the corrected value (the shipped file
    # declares two); a restriction flag it cannot have: it is asked.
    data = copy.deepcopy(shipped("smartlockr"))
    columns = {c["name"]: c for c in data["systems"][1]["tables"][0]["columns"]}
    assert columns["phone_2fa"]["rectifiable"] and columns["recipient_name"]["rectifiable"]
    validate_systems(data, "smartlockr.toml")
    data["systems"][1]["tables"][0]["restriction"] = {"column": "x", "value": "1", "lifted": "0"}
    with pytest.raises(PolicyError, match="asked through its API"):
        validate_systems(data, "smartlockr.toml")


def test_a_manual_system_kept_on_erasure_names_its_ground(systems):
    data = copy.deepcopy(shipped("defero"))
    data["systems"][1]["keep_ground"] = ""
    with pytest.raises(PolicyError, match="names its legal ground"):
        validate_systems(data, "defero.toml")


def test_the_notify_entries_are_loaded_with_the_systems(systems):
    notify = systems["defero"].notify
    assert [entry["recipient"] for entry in notify] == ["verwerkers", "derden"]
    assert notify[0]["email"] == "privacy@boekhouder.example"
    # What it receives, and when: loaded as the file says (load_systems accepts each shape).
    assert notify[1]["occasional"].startswith("Alleen met uitdrukkelijke toestemming")
    smartlockr = {entry["recipient"]: entry for entry in systems["smartlockr"].notify}
    assert smartlockr["verwerkers"]["system"] == "maillog"
    assert smartlockr["verwerkers"]["email"] == "privacy@mailverwerker.example"  # its fallback
    assert smartlockr["derden"]["receives"] == ["platform"]
    site = {entry["recipient"]: entry for entry in systems["smart-site"].notify}
    assert site["Google (Google Analytics)"]["exception"] == "impossible"
    # Every recipient of every shipped policy is declared: none waits for want of a way.
    for controller in systems.values():
        named = {entry["recipient"] for entry in controller.notify}
        assert set(controller.recipients.values_list("name", flat=True)) <= named


# --- The declaration (controllers/systems/format.py) drives the validator, loader and exporter.


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        # A kind that is not a string was a TypeError (unhashable) before the declaration chose.
        ({"kind": ["sql"]}, "systems[0].kind", "expected one of sql, http, manual"),
        ({"tables": {"name": "accounts"}}, "systems[0].tables", "([[systems.tables]])"),
        ({"tables__0__columns": "email"}, "tables[0].columns", "([[systems.tables.columns]])"),
        ({"tables__0__identities": "email"}, "tables[0].identities", "expected a table, got str"),
    ],
    ids=["kind-not-a-string", "tables-not-an-array", "columns-not-an-array", "identities"],
)
def test_a_key_of_the_wrong_shape_is_refused_by_its_declaration(systems, changes, key, message):
    with pytest.raises(PolicyError) as error:
        validate_systems(_system(**changes), "smartphoto.toml")
    assert key in error.value.key and message in error.value.message, str(error.value)


def test_the_systems_array_is_named_as_the_file_writes_it(systems):
    with pytest.raises(PolicyError, match=r"^smartphoto\.toml: systems: .*\(\[\[systems\]\]\)"):
        validate_systems(_system() | {"systems": {"name": "x"}}, "smartphoto.toml")


def test_each_typed_view_has_the_keys_of_its_table():
    """A key added to the declaration needs its attribute on the typed view the connectors
    read: held here, so that neither drifts from the other."""

    def views(schema: dict) -> list[tuple[type, dict]]:
        found = []
        for field in schema.values():
            if field.view is not None:
                found += [(field.view, field.schema), *views(field.schema)]
        return found

    kinds = set().union(*(set(schema) for schema in KIND_SCHEMAS.values()))
    assert {f.name for f in dataclasses.fields(SystemSpec)} == kinds
    for schema in KIND_SCHEMAS.values():
        for view, table in views(schema):
            assert {f.name for f in dataclasses.fields(view)} == set(table), view


def test_a_key_added_to_the_declaration_is_validated_loaded_and_exported(
    systems, tmp_path, monkeypatch
):
    """One line in format.py: a recipient's entry says in which language it is told."""

    def known_language(key, value, place):
        if value is not None and value not in ("nl", "en"):  # None: left out
            yield key, f"{value!r} is not a language of the notice"

    monkeypatch.setitem(NOTIFY, "language", Key("str", rules=(known_language,)))
    data = shipped("defero")
    data["notify"][0]["language"] = "fr"
    path = tmp_path / "defero.toml"
    path.write_text(tomli_w.dumps(data))
    with pytest.raises(PolicyError, match=r"notify\[0\]\.language: 'fr' is not a language"):
        load_systems_files([path])
    data["notify"][0]["language"] = "en"
    path.write_text(tomli_w.dumps(data))
    load_systems_files([path])
    controller = systems["defero"]
    controller.refresh_from_db()
    assert controller.notify[0]["language"] == "en"
    assert 'language = "en"' in dump_systems(controller)
    # Absent, it is written as the declaration's default ("" for a string).
    assert controller.notify[1]["language"] == ""


def test_load_systems_holds_sql_systems_against_their_databases_through_the_registered_check():
    """controllers cannot import fulfilment: fulfilment registers its check when it is ready."""
    assert _CHECKS[SystemKind.SQL] is check_database
    assert set(_CHECKS) == {SystemKind.SQL}
