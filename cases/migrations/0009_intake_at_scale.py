"""Intake at scale: the duplicate lookup gets an index on the lowercased address, and the case
keeps its chain's last hash (so appending an event reads none)."""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


def last_hashes(apps, schema_editor):
    Case = apps.get_model("dsar", "Case")
    CaseEvent = apps.get_model("dsar", "CaseEvent")
    for case_id, count in Case.objects.filter(audit_count__gt=0).values_list("pk", "audit_count"):
        last = CaseEvent.objects.filter(case_id=case_id, seq=count).values_list("hash", flat=True)
        Case.objects.filter(pk=case_id).update(audit_last=last.first() or "")


class Migration(migrations.Migration):
    dependencies = [
        ("controllers", "0003_mask_rule"),
        ("dsar", "0008_keyed_audit"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="case",
            name="request_duplicates",
        ),
        migrations.AddField(
            model_name="case",
            name="audit_last",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                models.F("controller"),
                models.F("right"),
                django.db.models.functions.text.Lower("email"),
                name="case_duplicates_lower_email",
            ),
        ),
        migrations.RunPython(last_hashes, migrations.RunPython.noop),
    ]
