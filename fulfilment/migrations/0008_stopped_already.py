"""An objection's or a withdrawal's rows that had stopped already when its change first ran,
kept with the change (the letter and the recipients go by them, not by the plan's dry run)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fulfilment", "0007_notice_mailing"),
    ]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="already",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
