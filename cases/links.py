"""The subject's two links: the email confirmation and the status page.

- Confirmation: a signed, timestamped token naming the reference; it expires after
  ``CONFIRMATION_MAX_AGE`` and is single-use because confirming moves the request out of
  ``unconfirmed`` (a reused link finds it confirmed and says so).
- Status: ``/s/<reference>/<token>/`` where the token is an HMAC of the request's random salt
  under SECRET_KEY. Nothing secret is stored, every mail can carry the link, and replacing the salt
  revokes it. Changing SECRET_KEY invalidates all links (documented in the README).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from .models import REFERENCE, Case

CONFIRMATION_MAX_AGE = dt.timedelta(days=7)
_CONFIRM_SALT = "dsar.confirm-email"


def new_status_salt() -> str:
    return secrets.token_hex(16)


def status_token(case: Case) -> str:
    return salted_hmac("dsar.status", case.status_salt, algorithm="sha256").hexdigest()[:40]


def status_path(case: Case) -> str:
    return reverse("status", args=[case.reference, status_token(case)])


def status_url(case: Case) -> str:
    return settings.SITE_URL + status_path(case)


def case_for_status(reference: str, token: str) -> Case | None:
    """The case a status link opens, or None for any wrong reference or token."""
    if not REFERENCE.fullmatch(reference):
        return None  # checked before it reaches the database
    case = Case.objects.select_related("controller").filter(reference=reference).first()
    if case is None or not constant_time_compare(status_token(case), token):
        return None
    return case


def confirmation_token(case: Case) -> str:
    return signing.dumps({"r": case.reference}, salt=_CONFIRM_SALT, compress=True)


def confirmation_url(case: Case) -> str:
    return settings.SITE_URL + reverse("confirm", args=[confirmation_token(case)])


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def reference_from_confirmation(token: str) -> str:
    try:
        payload = signing.loads(
            token, salt=_CONFIRM_SALT, max_age=CONFIRMATION_MAX_AGE.total_seconds()
        )
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    if not isinstance(payload, dict) or not isinstance(payload.get("r"), str):
        raise LinkInvalid
    return payload["r"]
