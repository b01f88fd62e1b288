"""A sent mail's consequences are recorded in a transaction of their own (cases.mail.follow_up);
``followed_up`` says they were. Rows from before were followed up in the sending transaction:
they are marked so (the column is added with True, then defaults to False for new rows)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dsar", "0013_decision_sent"),
    ]

    operations = [
        migrations.AddField(
            model_name="outgoingmail",
            name="followed_up",
            field=models.BooleanField(default=True, editable=False),
        ),
        migrations.AlterField(
            model_name="outgoingmail",
            name="followed_up",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddIndex(
            model_name="outgoingmail",
            index=models.Index(
                condition=models.Q(("followed_up", False)),
                fields=["sent_at"],
                name="mail_follow_up",
            ),
        ),
    ]
