"""Systems files: where each controller keeps the data of the people it serves, declared as data.

One TOML file a controller, ``controllers/systems/<slug>.toml`` (beside this package's code),
next to its policy. A system is one of three kinds:

- ``sql``: a database reached through SQLAlchemy Core (PostgreSQL, MariaDB/MySQL, SQLite). Its
  tables, the identity columns that find the subject, the links that lead from those rows to
  related ones, and for every column its data category (one of the policy's), whether the
  subject provided it (Art. 20) and what erasure does to it.
- ``http``: a processor's or SaaS API speaking the OpenDSR-shaped protocol of
  ``fulfilment.systems.connectors.http``; its tables describe the results it returns.
- ``manual``: a system without an API (paper files, a mailbox, a SaaS screen): its owner is asked
  by mail and answers in the case file.

Connection secrets are never in the file: a system names the environment variable that holds
its URL (``url_env``) and, for HTTP, its signing key (``secret_env``). For the demo only, a
``demo_url`` (without credentials; ``{var}`` is the demo's folder, ``{processor}`` its stub
processor's address) is used when the variable is unset.

The format is declared once, in ``format`` (every key, its type, its rules, where it is kept);
``validate`` checks a file against it, ``load`` keeps it in the registry, ``export`` writes it
back, ``views`` are the typed views the connectors read, and ``checks`` is where a room that
reaches a kind of system registers its check of a file against it. ``README.md`` here
documents the keys for people.
"""

from ..models import SystemKind
from .checks import add_system_check, against_systems
from .export import dump_systems, systems_data
from .format import IDENTITY_KINDS, KIND_SCHEMAS, NOW, canonical, spec_of
from .load import load_systems_files, read_systems_file, systems_files
from .validate import validate_systems
from .views import (
    ActionSpec,
    ColumnSpec,
    LinkSpec,
    RestrictionSpec,
    SystemSpec,
    TableSpec,
    after_erasure,
    erased_link,
)

__all__ = [
    "IDENTITY_KINDS",
    "KIND_SCHEMAS",
    "NOW",
    "ActionSpec",
    "ColumnSpec",
    "LinkSpec",
    "RestrictionSpec",
    "SystemKind",
    "SystemSpec",
    "TableSpec",
    "add_system_check",
    "after_erasure",
    "against_systems",
    "canonical",
    "dump_systems",
    "erased_link",
    "load_systems_files",
    "read_systems_file",
    "spec_of",
    "systems_data",
    "systems_files",
    "validate_systems",
]
