"""The demo's systems, filled with fake people: each controller's databases shaped after what its
statement says it keeps (and as its systems file declares them), a few thousand Dutch and
Belgian fakes from Faker, and one known person, the demo subject, at every controller.

The databases are SQLite files under ``var/systems/`` (the systems files' ``demo_url``); the
smartphoto photos are real image files; Smartlockr's mail log lives with the stub processor
(``demo.processor``), reached over HTTP. Defero's financial administration has no database: it
is a manual system. Building is idempotent (an existing file is kept) and seeded, so every
newcomer's demo holds the same people.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faker import Faker
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Subject:
    """The demo subject: makes requests at any of the five and gets their data back."""

    first_name: str = "Sanne"
    last_name: str = "Jansen"
    email: str = "sanne.jansen@example.org"
    phone: str = "+31 6 12345678"
    address: str = "Stationsstraat 12, 3511 EE Utrecht"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


SUBJECT = Subject()
SEED = 2026
START = dt.datetime(2024, 1, 1, 9, 0)


def _moment(rng: random.Random, days: int = 900) -> str:
    return (START + dt.timedelta(minutes=rng.randrange(days * 24 * 60))).isoformat(sep=" ")


def _fake_email(fake: Faker, number: int) -> str:
    # Unique by construction, and never the demo subject's address.
    return f"{fake.user_name()}.{number}@example.com"


# The demo databases' shape; a file of an older shape is built again (an older demo's var/).
# 2: restriction flags and Defero's newsletter, for the rights that change data.
# 3: restriction flags on the rows erasure keeps (smartphoto's orders, Smartlockr's invoices)
# and on Defero's newsletter.
VERSION = 3


def _create(path: Path, schema: str) -> sqlite3.Connection | None:
    if path.exists():
        with sqlite3.connect(path) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
        if version >= VERSION:
            return None
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(schema)
    db.execute(f"PRAGMA user_version = {VERSION}")
    return db


def smart_site(folder: Path, count: int) -> int:
    db = _create(
        folder / "smart-site-website.sqlite3",
        """
        CREATE TABLE leads (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT,
            company TEXT, message TEXT, ip_address TEXT, created_at TEXT,
            restricted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX leads_email ON leads (lower(email));
        CREATE INDEX leads_phone ON leads (phone);
        CREATE TABLE newsletter (id INTEGER PRIMARY KEY, email TEXT, name TEXT,
            subscribed_at TEXT, confirmed_ip TEXT, unsubscribed_at TEXT);
        CREATE INDEX newsletter_email ON newsletter (lower(email));
        """,
    )
    if db is None:
        return 0
    fake, rng = Faker("nl_NL"), random.Random(SEED)
    fake.seed_instance(SEED)
    leads, letters = [], []
    for n in range(count):
        email = _fake_email(fake, n)
        leads.append(
            (
                fake.name(),
                email,
                fake.phone_number(),
                fake.company(),
                fake.sentence(nb_words=12),
                fake.ipv4_public(),
                _moment(rng),
            )
        )
        if n % 3 == 0:
            letters.append((email, fake.first_name(), _moment(rng), fake.ipv4_public(), None))
    s = SUBJECT
    leads += [
        (
            s.name,
            s.email,
            s.phone,
            "Jansen Advies",
            "Graag een offerte voor een nieuwe website.",
            "145.53.12.7",
            "2025-02-03 10:15:00",
        ),
        (
            s.name,
            s.email.upper(),
            s.phone,
            "Jansen Advies",
            "Is de offerte al verstuurd?",
            "145.53.12.7",
            "2025-02-17 09:02:00",
        ),
    ]
    letters.append((s.email, s.first_name, "2025-02-03 10:16:00", "145.53.12.7", None))
    db.executemany(
        "INSERT INTO leads (name, email, phone, company, message, ip_address, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        leads,
    )
    db.executemany(
        "INSERT INTO newsletter (email, name, subscribed_at, confirmed_ip, "
        "unsubscribed_at) VALUES (?, ?, ?, ?, ?)",
        letters,
    )
    db.commit()
    db.close()
    return len(leads) + len(letters)


def _photo(path: Path, text: str, colour: tuple[int, int, int]) -> None:
    image = Image.new("RGB", (320, 240), colour)
    ImageDraw.Draw(image).text((16, 16), text, fill=(255, 255, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=80)


def smartphoto(folder: Path, count: int) -> int:
    db = _create(
        folder / "smartphoto-webshop.sqlite3",
        """
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT,
            last_name TEXT, mobile TEXT, language TEXT, newsletter INTEGER, created_at TEXT,
            password_hash TEXT, restricted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX accounts_email ON accounts (lower(email));
        CREATE INDEX accounts_mobile ON accounts (mobile);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, account_id INTEGER, ordered_at TEXT,
            product TEXT, amount_eur NUMERIC, delivery_address TEXT, payment_method TEXT,
            restricted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX orders_account ON orders (account_id);
        CREATE TABLE albums (id INTEGER PRIMARY KEY, account_id INTEGER, title TEXT,
            created_at TEXT);
        CREATE INDEX albums_account ON albums (account_id);
        CREATE TABLE photos (id INTEGER PRIMARY KEY, album_id INTEGER, file_path TEXT,
            caption TEXT, uploaded_at TEXT);
        CREATE INDEX photos_album ON photos (album_id);
        CREATE TABLE calendar_events (id INTEGER PRIMARY KEY, account_id INTEGER,
            event_date TEXT, description TEXT);
        CREATE INDEX calendar_account ON calendar_events (account_id);
        """,
    )
    if db is None:
        return 0
    files = folder / "smartphoto-photos"
    fake, rng = Faker("nl_BE"), random.Random(SEED + 1)
    fake.seed_instance(SEED + 1)
    products = ["Fotoboek A4 liggend", "Wanddecoratie canvas", "Fotokalender 2025", "Prints 10x15"]
    rows = 0
    for n in range(count):
        account = db.execute(
            "INSERT INTO accounts (email, first_name, last_name, mobile, language, newsletter, "
            "created_at, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _fake_email(fake, n),
                fake.first_name(),
                fake.last_name(),
                fake.phone_number(),
                rng.choice(["nl", "fr"]),
                rng.random() < 0.4,
                _moment(rng),
                "pbkdf2$fake",
            ),
        ).lastrowid
        db.executemany(
            "INSERT INTO orders (account_id, ordered_at, product, amount_eur, delivery_address, "
            "payment_method) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    account,
                    _moment(rng),
                    rng.choice(products),
                    round(rng.uniform(5, 80), 2),
                    fake.address().replace("\n", ", "),
                    rng.choice(["Bancontact", "Visa"]),
                )
                for _ in range(rng.randrange(3))
            ],
        )
        rows += 1
        if n % 10 == 0:  # some fakes keep photos too: real files, so a search must skip theirs
            album = db.execute(
                "INSERT INTO albums (account_id, title, created_at) VALUES (?, ?, ?)",
                (account, fake.word().title(), _moment(rng)),
            ).lastrowid
            relative = f"{account}/{album}-1.jpg"
            _photo(files / relative, fake.first_name(), (40, 90, 140))
            db.execute(
                "INSERT INTO photos (album_id, file_path, caption, uploaded_at) VALUES "
                "(?, ?, ?, ?)",
                (album, relative, fake.word(), _moment(rng)),
            )
    s = SUBJECT
    account = db.execute(
        "INSERT INTO accounts (email, first_name, last_name, mobile, language, newsletter, "
        "created_at, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            s.email,
            s.first_name,
            s.last_name,
            s.phone,
            "nl",
            1,
            "2023-11-05 20:11:00",
            "pbkdf2$not-in-any-package",
        ),
    ).lastrowid
    db.executemany(
        "INSERT INTO orders (account_id, ordered_at, product, amount_eur, delivery_address, "
        "payment_method) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (account, "2024-06-02 19:40:00", "Fotoboek A4 liggend", 39.95, s.address, "Bancontact"),
            (account, "2024-12-01 08:05:00", "Fotokalender 2025", 24.99, s.address, "Visa"),
        ],
    )
    album = db.execute(
        "INSERT INTO albums (account_id, title, created_at) VALUES (?, ?, ?)",
        (account, "Vakantie Zeeland", "2024-05-28 21:00:00"),
    ).lastrowid
    for number, (caption, colour) in enumerate(
        [
            ("Strand bij Domburg", (230, 160, 40)),
            ("Vuurtoren", (200, 60, 60)),
            ("Zonsondergang", (120, 40, 120)),
        ],
        start=1,
    ):
        relative = f"{account}/{album}-{number}.jpg"
        _photo(files / relative, caption, colour)
        db.execute(
            "INSERT INTO photos (album_id, file_path, caption, uploaded_at) VALUES (?, ?, ?, ?)",
            (album, relative, caption, f"2024-05-28 21:0{number}:00"),
        )
    db.execute(
        "INSERT INTO calendar_events (account_id, event_date, description) VALUES (?, ?, ?)",
        (account, "2025-04-14", "Verjaardag mama"),
    )
    db.commit()
    db.close()
    return rows + 1


def contractstatus(folder: Path, count: int) -> int:
    db = _create(
        folder / "contractstatus.sqlite3",
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number TEXT, name TEXT,
            email TEXT, address TEXT, phone TEXT, created_at TEXT, last_visit TEXT,
            ip_address TEXT, newsletter INTEGER, restricted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX customers_email ON customers (lower(email));
        CREATE INDEX customers_number ON customers (customer_number);
        CREATE INDEX customers_phone ON customers (phone);
        CREATE TABLE contracts (id INTEGER PRIMARY KEY, customer_id INTEGER, product TEXT,
            provider TEXT, start_date TEXT, end_date TEXT, monthly_eur NUMERIC, iban TEXT);
        CREATE INDEX contracts_customer ON contracts (customer_id);
        CREATE TABLE tickets (id INTEGER PRIMARY KEY, customer_id INTEGER, opened_at TEXT,
            channel TEXT, notes TEXT);
        CREATE INDEX tickets_customer ON tickets (customer_id);
        """,
    )
    if db is None:
        return 0
    fake, rng = Faker("nl_NL"), random.Random(SEED + 2)
    fake.seed_instance(SEED + 2)
    providers = ["Ziggo", "KPN", "Vattenfall", "Eneco", "Vodafone"]
    for n in range(count):
        customer = db.execute(
            "INSERT INTO customers (customer_number, name, email, address, phone, created_at, "
            "last_visit, ip_address, newsletter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f"CS{100000 + n}",
                fake.name(),
                _fake_email(fake, n),
                fake.address().replace("\n", ", "),
                fake.phone_number(),
                _moment(rng),
                _moment(rng),
                fake.ipv4_public(),
                rng.random() < 0.3,
            ),
        ).lastrowid
        db.execute(
            "INSERT INTO contracts (customer_id, product, provider, start_date, "
            "end_date, monthly_eur, iban) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                "Energie",
                rng.choice(providers),
                "2024-01-01",
                "2025-12-31",
                round(rng.uniform(40, 180), 2),
                fake.iban(),
            ),
        )
    s = SUBJECT
    customer = db.execute(
        "INSERT INTO customers (customer_number, name, email, address, phone, created_at, "
        "last_visit, ip_address, newsletter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "CS777001",
            s.name,
            s.email,
            s.address,
            s.phone,
            "2024-03-01 12:00:00",
            "2025-09-30 18:22:00",
            "145.53.12.7",
            1,
        ),
    ).lastrowid
    db.executemany(
        "INSERT INTO contracts (customer_id, product, provider, start_date, end_date, "
        "monthly_eur, iban) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                customer,
                "Internet en tv",
                "Ziggo",
                "2024-03-15",
                "2026-03-14",
                54.50,
                "NL91ABNA0417164300",
            ),
            (
                customer,
                "Energie",
                "Vattenfall",
                "2024-04-01",
                "2025-03-31",
                121.00,
                "NL91ABNA0417164300",
            ),
        ],
    )
    db.execute(
        "INSERT INTO tickets (customer_id, opened_at, channel, notes) VALUES (?, ?, ?, ?)",
        (customer, "2025-01-10 10:00:00", "chat", "Vraag over opzegtermijn energiecontract."),
    )
    db.commit()
    db.close()
    return count + 1


def smartlockr(folder: Path, count: int) -> int:
    db = _create(
        folder / "smartlockr-platform.sqlite3",
        """
        CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT,
            last_name TEXT, organisation TEXT, gender TEXT, phone TEXT, azure_user_id TEXT,
            browser TEXT, created_at TEXT, password_hash TEXT,
            restricted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX users_email ON users (lower(email));
        CREATE INDEX users_phone ON users (phone);
        CREATE TABLE invoices (id INTEGER PRIMARY KEY, user_id INTEGER, invoice_date TEXT,
            amount_eur NUMERIC, iban TEXT, restricted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX invoices_user ON invoices (user_id);
        """,
    )
    if db is None:
        return 0
    fake, rng = Faker("nl_NL"), random.Random(SEED + 3)
    fake.seed_instance(SEED + 3)
    browsers = ["Edge 120 / Windows", "Chrome 121 / macOS", "Outlook 16.0 / Windows"]
    for n in range(count):
        user = db.execute(
            "INSERT INTO users (email, first_name, last_name, organisation, gender, phone, "
            "azure_user_id, browser, created_at, password_hash) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _fake_email(fake, n),
                fake.first_name(),
                fake.last_name(),
                fake.company(),
                rng.choice(["M", "V"]),
                fake.phone_number(),
                fake.uuid4(),
                rng.choice(browsers),
                _moment(rng),
                "argon2$fake",
            ),
        ).lastrowid
        if n % 4 == 0:
            db.execute(
                "INSERT INTO invoices (user_id, invoice_date, amount_eur, iban) VALUES "
                "(?, ?, ?, ?)",
                (user, _moment(rng)[:10], 12.5, fake.iban()),
            )
    s = SUBJECT
    user = db.execute(
        "INSERT INTO users (email, first_name, last_name, organisation, gender, phone, "
        "azure_user_id, browser, created_at, password_hash) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            s.email,
            s.first_name,
            s.last_name,
            "Jansen Advies",
            "V",
            s.phone,
            "3f2c9a1e-0d1b-4c55-9e0a-7d5e2b8c1a44",
            "Outlook 16.0 / Windows",
            "2024-02-12 08:30:00",
            "argon2$not-in-any-package",
        ),
    ).lastrowid
    db.executemany(
        "INSERT INTO invoices (user_id, invoice_date, amount_eur, iban) VALUES (?, ?, ?, ?)",
        [
            (user, "2024-03-01", 12.50, "NL91ABNA0417164300"),
            (user, "2024-04-01", 12.50, "NL91ABNA0417164300"),
        ],
    )
    db.commit()
    db.close()
    return count + 1


def smartlockr_maillog(folder: Path, count: int) -> int:
    """The processor's data (demo.processor serves it over HTTP)."""
    db = _create(
        folder / "processor-smartlockr-maillog.sqlite3",
        """
        CREATE TABLE deliveries (id INTEGER PRIMARY KEY, recipient TEXT, recipient_name TEXT,
            sender_organisation TEXT, sent_at TEXT, opened_at TEXT, browser TEXT,
            phone_2fa TEXT);
        CREATE INDEX deliveries_recipient ON deliveries (lower(recipient));
        """,
    )
    if db is None:
        return 0
    fake, rng = Faker("nl_NL"), random.Random(SEED + 4)
    fake.seed_instance(SEED + 4)
    rows = [
        (
            _fake_email(fake, n),
            fake.name(),
            fake.company(),
            _moment(rng),
            _moment(rng),
            "Chrome / Android",
            fake.phone_number(),
        )
        for n in range(count)
    ]
    s = SUBJECT
    rows += [
        (
            s.email,
            s.name,
            "Notariskantoor De Wit",
            "2025-03-03 14:00:00",
            "2025-03-03 14:12:00",
            "Safari / iOS",
            s.phone,
        ),
        (s.email, s.name, "Gemeente Utrecht", "2025-05-20 09:30:00", None, None, s.phone),
    ]
    db.executemany(
        "INSERT INTO deliveries (recipient, recipient_name, sender_organisation, "
        "sent_at, opened_at, browser, phone_2fa) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()
    return len(rows)


def defero(folder: Path, count: int) -> int:
    db = _create(
        folder / "defero-klanten.sqlite3",
        """
        CREATE TABLE klanten (id INTEGER PRIMARY KEY, klantnummer TEXT, naam TEXT,
            bedrijfsnaam TEXT, adres TEXT, telefoon TEXT, email TEXT, functie TEXT, merk TEXT,
            klant_sinds TEXT, beperkt INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX klanten_email ON klanten (lower(email));
        CREATE INDEX klanten_nummer ON klanten (klantnummer);
        CREATE INDEX klanten_telefoon ON klanten (telefoon);
        CREATE TABLE contactmomenten (id INTEGER PRIMARY KEY, klant_id INTEGER, datum TEXT,
            kanaal TEXT, samenvatting TEXT);
        CREATE INDEX contact_klant ON contactmomenten (klant_id);
        CREATE TABLE nieuwsbrief (id INTEGER PRIMARY KEY, email TEXT, naam TEXT,
            ingeschreven_op TEXT, beperkt INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX nieuwsbrief_email ON nieuwsbrief (lower(email));
        """,
    )
    if db is None:
        return 0
    fake, rng = Faker("nl_NL"), random.Random(SEED + 5)
    fake.seed_instance(SEED + 5)
    brands = ["SMART Websites", "SMART Payments", "SMART Dashboard", "Web Made Easy"]
    for n in range(count):
        klant = db.execute(
            "INSERT INTO klanten (klantnummer, naam, bedrijfsnaam, adres, telefoon, email, "
            "functie, merk, klant_sinds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f"D{20000 + n}",
                fake.name(),
                fake.company(),
                fake.address().replace("\n", ", "),
                fake.phone_number(),
                _fake_email(fake, n),
                fake.job(),
                rng.choice(brands),
                _moment(rng)[:10],
            ),
        ).lastrowid
        if n % 2 == 0:
            db.execute(
                "INSERT INTO contactmomenten (klant_id, datum, kanaal, samenvatting) "
                "VALUES (?, ?, ?, ?)",
                (klant, _moment(rng), "telefoon", fake.sentence(nb_words=8)),
            )
        if n % 4 == 0:
            db.execute(
                "INSERT INTO nieuwsbrief (email, naam, ingeschreven_op) VALUES (?, ?, ?)",
                (_fake_email(fake, n), fake.first_name(), _moment(rng)),
            )
    s = SUBJECT
    db.execute(
        "INSERT INTO nieuwsbrief (email, naam, ingeschreven_op) VALUES (?, ?, ?)",
        (s.email, s.first_name, "2023-09-02 08:30:00"),
    )
    klant = db.execute(
        "INSERT INTO klanten (klantnummer, naam, bedrijfsnaam, adres, telefoon, email, functie, "
        "merk, klant_sinds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "D77001",
            s.name,
            "Jansen Advies",
            s.address,
            s.phone,
            s.email,
            "Eigenaar",
            "SMART Websites",
            "2023-09-01",
        ),
    ).lastrowid
    db.executemany(
        "INSERT INTO contactmomenten (klant_id, datum, kanaal, samenvatting) VALUES (?, ?, ?, ?)",
        [
            (klant, "2024-10-02 11:00:00", "telefoon", "Vraag over factuur september."),
            (klant, "2025-01-15 15:30:00", "e-mail", "Nieuwe website besproken."),
        ],
    )
    db.commit()
    db.close()
    return count + 1


BUILDERS: dict[str, Callable[[Path, int], int]] = {
    "smart-site": smart_site,
    "smartphoto": smartphoto,
    "contractstatus": contractstatus,
    "smartlockr": smartlockr,
    "smartlockr-maillog": smartlockr_maillog,
    "defero": defero,
}


def build(folder: Path, count: int = 2000) -> dict[str, int]:
    """Build every demo system that does not exist yet; the rows each new one holds."""
    return {name: builder(folder, count) for name, builder in BUILDERS.items()}
