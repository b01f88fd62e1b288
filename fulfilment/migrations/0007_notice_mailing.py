"""A recipient's notice by mail is told once its mail has left ("being mailed" until then):
notices recorded as told whose mail has not left are put back to being mailed."""

from django.db import migrations, models


def mailing(apps, schema_editor):
    Notice = apps.get_model("fulfilment", "Notice")
    Notice.objects.filter(status="sent", mail__isnull=False).exclude(mail__status="sent").update(
        status="mailing", sent_at=None
    )


class Migration(migrations.Migration):
    dependencies = [
        ("fulfilment", "0006_kept_keys"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notice",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "to be sent"),
                    ("mailing", "being mailed"),
                    ("sent", "told"),
                    ("answered", "answered"),
                    ("unresolved", "waiting for the officer"),
                    ("unreachable", "not told (reason recorded)"),
                    ("not_disclosed", "none of the subject's data disclosed to it"),
                ],
                default="pending",
                max_length=20,
            ),
        ),
        migrations.RunPython(mailing, migrations.RunPython.noop),
    ]
