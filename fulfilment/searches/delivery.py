"""The subject's download: a one-time code mailed at that moment, then the package, streamed.

The status link (``cases.links``) opens the page; the code proves the mailbox is still the
subject's when the download happens (a status link forwarded or left in a browser history is not
enough for the data itself). A code has 6 digits, lasts ``DOWNLOAD_CODE_MINUTES``, allows
``DOWNLOAD_CODE_TRIES`` tries, is used once, and only its keyed hash is kept; at most five codes
an hour are sent for one package. Every download, code and ending is an event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.actors import Actor
from cases.audit import note
from cases.mail import queue_mail

from ..models import DownloadCode, Package, PackageStatus
from .package import opened

CODES_AN_HOUR = 5
# Over a link's whole life (7 days by default): 20 codes of 5 tries are 100 guesses at a
# six-digit code, a chance of 1 in 10,000 for whoever holds a leaked status link.
CODES_IN_ALL = 20


def available(package: Package | None, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        package is not None
        and package.status == PackageStatus.RELEASED
        and package.expires_at is not None
        and package.expires_at > now
    )


def _hash(package: Package, code: str) -> str:
    message = f"download-code:{package.pk}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def send_code(package: Package, now: dt.datetime | None = None) -> None:
    """Mail a fresh code; ValidationError when the package is gone or too many were sent."""
    now = now or timezone.now()
    if not available(package, now):
        raise ValidationError(_("This download is no longer available."))
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        # Counted under the package's lock: parallel requests cannot each pass the limit.
        Package.objects.select_for_update().filter(pk=package.pk).first()
        codes = package.codes.all()
        if codes.filter(created_at__gte=now - dt.timedelta(hours=1)).count() >= CODES_AN_HOUR:
            raise ValidationError(
                _("Too many codes were asked for in the last hour. Try again later.")
            )
        if codes.count() >= CODES_IN_ALL:
            raise ValidationError(
                _("Too many codes were asked for this download. Contact the company.")
            )
        # Only the newest code counts: an older one left unused gives no extra guesses.
        codes.filter(used_at__isnull=True).update(tries_left=0)
        DownloadCode.objects.create(
            package=package,
            code_hash=_hash(package, code),
            created_at=now,
            expires_at=now + dt.timedelta(minutes=settings.DOWNLOAD_CODE_MINUTES),
            tries_left=settings.DOWNLOAD_CODE_TRIES,
        )
        queue_mail(
            package.case,
            "download_code",
            at=now,
            secret_code=code,  # dropped from the mail row once sent (cases.mail)
            minutes=settings.DOWNLOAD_CODE_MINUTES,
        )
        note(package.case, actor=Actor.subject(), action="download_code_sent", at=now)


def check_code(package: Package, code: str, now: dt.datetime | None = None) -> bool:
    """Whether ``code`` is the latest valid code; a wrong one costs a try, a right one is used."""
    now = now or timezone.now()
    code = "".join(code.split())
    with transaction.atomic():
        current = (
            DownloadCode.objects.select_for_update()
            .filter(package=package, used_at__isnull=True, expires_at__gt=now, tries_left__gt=0)
            .order_by("-pk")
            .first()
        )
        if current is None:
            return False
        if (
            len(code) == 6
            and code.isascii()
            and code.isdigit()
            and hmac.compare_digest(_hash(package, code), current.code_hash)
        ):
            current.used_at = now
            current.save(update_fields=["used_at"])
            return True
        DownloadCode.objects.filter(pk=current.pk).update(tries_left=F("tries_left") - 1)
        return False


def download(package: Package, now: dt.datetime | None = None) -> Iterator[bytes] | None:
    """Open the package, record the download and give its chunks (the caller streams them);
    None, and nothing recorded, when its file is gone (ended since its row was read)."""
    now = now or timezone.now()
    chunks = opened(package)
    if chunks is None:
        return None
    with transaction.atomic():
        Package.objects.filter(pk=package.pk).update(downloads=F("downloads") + 1)
        note(
            package.case,
            actor=Actor.subject(),
            action="package_downloaded",
            at=now,
            data={"sha256": package.sha256},
        )
    return chunks
