"""Deadlines judged by what reached the subject: the mail that carries a decision or an
extension notice is marked, and the case keeps when each was sent.

Rows from before: the subject's mail of kind "completed" or "refused" carries the decision,
"extended" the extension notice; a case takes its first such mail's sent time unless the
provider reported it bounced, rejected or failed (then it was not communicated)."""

from django.db import migrations, models

KINDS = {"completed": "decision", "refused": "decision", "extended": "extension"}
NOT_DELIVERED = ("bounced", "rejected", "failed")


def backfill(apps, schema_editor):
    OutgoingMail = apps.get_model("dsar", "OutgoingMail")
    Case = apps.get_model("dsar", "Case")
    mails = OutgoingMail.objects.filter(kind__in=KINDS, case__isnull=False).select_related("case")
    for mail in mails.order_by("created_at", "pk").iterator(chunk_size=2000):
        if mail.to.lower() != mail.case.email.lower():
            continue
        carries = KINDS[mail.kind]
        OutgoingMail.objects.filter(pk=mail.pk).update(carries=carries)
        if mail.status != "sent" or mail.sent_at is None:
            continue
        if mail.delivery_status in NOT_DELIVERED:
            continue
        column = "decision_sent_at" if carries == "decision" else "extension_sent_at"
        Case.objects.filter(pk=mail.case_id, **{f"{column}__isnull": True}).update(
            **{column: mail.sent_at}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("dsar", "0012_mail_record"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="decision_sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="decision sent"),
        ),
        migrations.AddField(
            model_name="case",
            name="extension_sent_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="extension notice sent"
            ),
        ),
        migrations.AddField(
            model_name="outgoingmail",
            name="carries",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "nothing a deadline is judged by"),
                    ("decision", "the decision"),
                    ("extension", "the extension notice"),
                ],
                default="",
                max_length=10,
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
