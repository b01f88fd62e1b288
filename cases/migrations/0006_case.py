"""The domain model is renamed Request -> Case, so it cannot be confused with Django's HttpRequest.

RenameModel and RenameField keep every row: the tables and columns are renamed in place. The two
unique constraints that name the renamed column are dropped first and made again after (Django's
RenameField does not rewrite a constraint's field list).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("controllers", "0002_supervisory_authorities"),
        ("dsar", "0005_inbound_mail"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="caseevent", name="one_event_a_seq"),
        migrations.RemoveConstraint(model_name="milestone", name="one_milestone_a_kind"),
        migrations.RenameModel("Request", "Case"),
        migrations.RenameField("caseevent", "request", "case"),
        migrations.RenameField("suspension", "request", "case"),
        migrations.RenameField("milestone", "request", "case"),
        migrations.RenameField("message", "request", "case"),
        migrations.RenameField("iddocument", "request", "case"),
        migrations.RenameField("outgoingmail", "request", "case"),
        migrations.RenameField("inboundmail", "request", "case"),
        migrations.AddConstraint(
            model_name="caseevent",
            constraint=models.UniqueConstraint(fields=("case", "seq"), name="one_event_a_seq"),
        ),
        migrations.AddConstraint(
            model_name="milestone",
            constraint=models.UniqueConstraint(
                fields=("case", "kind"), name="one_milestone_a_kind"
            ),
        ),
        migrations.AlterModelOptions(name="caseevent", options={"ordering": ["case", "seq"]}),
        migrations.AlterField(
            model_name="case",
            name="assigned_to",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="assigned_cases",
                to=settings.AUTH_USER_MODEL,
                verbose_name="assigned to",
            ),
        ),
        migrations.AlterField(
            model_name="case",
            name="controller",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="cases",
                to="controllers.controller",
                verbose_name="controller",
            ),
        ),
    ]
