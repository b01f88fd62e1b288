"""``python -m bench.fill N``: N open cases at smart-site, in the database the environment names
(settings from DJANGO_SETTINGS_MODULE); the intake benchmark fills its database with them first."""

from __future__ import annotations

import sys

import django


def main() -> None:
    django.setup()
    from django.db import connection

    from bench.rows import clone_cases, confirmed_template
    from cases.models import Case
    from dsar.celery import app

    app.conf.broker_url = "memory://"  # the template's confirmation mail is not measured
    count = int(sys.argv[1])
    clone_cases(confirmed_template("Existing"), count - 1, year=2024)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Case._meta.db_table}")


if __name__ == "__main__":
    main()
