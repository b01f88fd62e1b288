"""Celery tasks. They take ids and re-read rows, so a late or repeated task does no harm."""

from __future__ import annotations

from celery import shared_task

from . import mail


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def send_mail(mail_id: int) -> bool:
    return mail.deliver(mail_id)
