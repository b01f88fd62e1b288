"""A recipient's notice by mail is told once its mail has left ("being mailed" until then):
notices recorded as told whose mail has not left are put back to being mailed. Backwards, the
earlier code knows no "being mailed" and would leave such a notice unresolved for ever: it is
told again, as that code recorded it (at the time its mail was queued)."""

from django.db import migrations, models


def mailing(apps, schema_editor):
    Notice = apps.get_model("fulfilment", "Notice")
    Notice.objects.filter(status="sent", mail__isnull=False).exclude(mail__status="sent").update(
        status="mailing", sent_at=None
    )


def told(apps, schema_editor):
    Notice = apps.get_model("fulfilment", "Notice")
    for notice in Notice.objects.filter(status="mailing").select_related("mail"):
        notice.status = "sent"
        notice.sent_at = notice.mail.created_at if notice.mail else None
        notice.save(update_fields=["status", "sent_at"])


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
        migrations.RunPython(mailing, told),
    ]
