"""Mail rows: sent once, whoever sends them, and swept up when the first publish was lost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from cases.mail import deliver, resend_unsent_mail
from cases.models import MailStatus, OutgoingMail

pytestmark = pytest.mark.django_db


def test_a_row_is_delivered_once_however_often_it_is_sent(cast, submit):
    case = submit(cast.a, confirm=False)
    (row,) = OutgoingMail.objects.filter(case=case)
    assert row.status == MailStatus.SENT  # the normal path, after commit
    outbox = len(mail.outbox)
    assert deliver(row.pk) is False  # a redelivered task
    assert len(mail.outbox) == outbox
    assert OutgoingMail.objects.get(pk=row.pk).attempts == 1


def test_the_sweep_resends_only_rows_left_queued_past_the_grace_period(cast, submit):
    case = submit(cast.a, confirm=False)
    old = OutgoingMail.objects.create(case=case, to=case.email, kind="confirm", language="nl")
    OutgoingMail.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=5)
    )
    fresh = OutgoingMail.objects.create(case=case, to=case.email, kind="confirm", language="nl")
    outbox = len(mail.outbox)
    assert resend_unsent_mail() == 1
    assert OutgoingMail.objects.get(pk=old.pk).status == MailStatus.SENT
    assert OutgoingMail.objects.get(pk=fresh.pk).status == MailStatus.QUEUED
    assert len(mail.outbox) == outbox + 1
    assert resend_unsent_mail() == 0


def test_subject_and_headers_carry_no_user_text(cast, submit):
    submit(cast.a, confirm=False, name="Jan\nBcc: evil@example.org")
    message = mail.outbox[-1]
    assert "\n" not in message.subject and "evil" not in message.subject
    assert message.to == ["jan@example.org"]
    assert message.extra_headers["X-DSAR-Reference"].startswith("DSAR-")
