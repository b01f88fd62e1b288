"""One vocabulary (issue 22, part 3): a search of a system is ``Search`` (was ``Collection``), a
change made in a system ``Change`` (was ``Execution``), as the officer's pages and the docs say.
The rows are kept: the tables are renamed, the related names follow the new words, and the mail
kind of a failed search becomes "search_failed" (its templates moved with it). Audit events are
never rewritten: see ``fulfilment.searches.events``."""

import django.db.models.deletion
from django.db import migrations, models


def mail_kind(old: str, new: str):
    def rename(apps, schema_editor):
        apps.get_model("dsar", "OutgoingMail").objects.filter(kind=old).update(kind=new)

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("dsar", "0016_grounds_per_right_and_pause_reasons"),
        ("fulfilment", "0010_clock_set_creation"),
    ]

    operations = [
        migrations.RenameModel("Collection", "Search"),
        migrations.RenameModel("Execution", "Change"),
        migrations.AlterField(
            model_name="search",
            name="case",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="searches",
                to="dsar.case",
            ),
        ),
        migrations.AlterField(
            model_name="change",
            name="case",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="dsar.case",
            ),
        ),
        migrations.AlterField(
            model_name="change",
            name="plan",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="fulfilment.plan",
            ),
        ),
        migrations.RunPython(
            mail_kind("collection_failed", "search_failed"),
            mail_kind("search_failed", "collection_failed"),
        ),
    ]
