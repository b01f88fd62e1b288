"""Seed the two supervisory authorities the first controllers answer to (Art. 77 GDPR)."""

from django.db import migrations

AUTHORITIES = [
    {
        "code": "AP",
        "name": "Autoriteit Persoonsgegevens",
        "country": "NL",
        "website": "https://autoriteitpersoonsgegevens.nl/",
        "complaint_url": "https://autoriteitpersoonsgegevens.nl/een-tip-of-klacht-indienen-bij-de-ap",
        "email": "",
        "address": "Postbus 93374, 2509 AJ Den Haag",
    },
    {
        "code": "GBA",
        "name": "Gegevensbeschermingsautoriteit / Autorité de protection des données",
        "country": "BE",
        "website": "https://www.gegevensbeschermingsautoriteit.be/",
        "complaint_url": "https://www.gegevensbeschermingsautoriteit.be/burger/acties/klacht-indienen",
        "email": "contact@apd-gba.be",
        "address": "Drukpersstraat 35, 1000 Brussel",
    },
]


def seed(apps, schema_editor):
    SupervisoryAuthority = apps.get_model("controllers", "SupervisoryAuthority")
    for authority in AUTHORITIES:
        SupervisoryAuthority.objects.update_or_create(code=authority["code"], defaults=authority)


class Migration(migrations.Migration):
    dependencies = [("controllers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
