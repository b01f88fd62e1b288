"""Receiving a request: stored first (the clock starts here), then confirmed by email.

``receive_request`` is the one way a request comes into being, whatever the channel: the public
form, an officer recording a phone call or letter (issue 4), or email intake (issue 5).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from controllers.models import Controller

from . import iddocs
from .audit import record_event
from .links import new_status_salt
from .mail import queue_mail
from .models import OPEN_STATES, Channel, ReferenceCounter, Request, State
from .workflow import Actor, perform


def next_reference(year: int) -> str:
    """DSAR-<year>-<number>, numbered without gaps per year, safe under concurrent intake."""
    # INSERT ... ON CONFLICT DO NOTHING: two first requests of a year cannot collide.
    ReferenceCounter.objects.bulk_create([ReferenceCounter(year=year)], ignore_conflicts=True)
    counter = ReferenceCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"DSAR-{year}-{counter.last:06d}"


def receive_request(
    *,
    controller: Controller,
    right: str,
    name: str,
    email: str,
    language: str,
    details: str = "",
    customer_number: str = "",
    phone: str = "",
    postal_address: str = "",
    channel: str = Channel.WEB,
    received_at: dt.datetime | None = None,
    id_document: iddocs.CheckedDocument | None = None,
    actor: Actor | None = None,
) -> Request:
    """Store a new request in the awaiting-confirmation state and mail the confirmation link.

    An officer recording a request that reached the controller by phone, post or email (``actor``
    an officer, ``channel`` not web) confirms it at once: no confirmation mail goes out, the
    clock starts at ``received_at`` (the real time of receipt, not of data entry).
    """
    received_at = received_at or timezone.now()
    actor = actor or Actor.subject()
    with transaction.atomic():
        request = Request(
            reference=next_reference(timezone.localdate(received_at).year),
            controller=controller,
            right=right,
            channel=channel,
            language=language,
            received_at=received_at,
            name=name,
            email=email,
            customer_number=customer_number,
            phone=phone,
            postal_address=postal_address,
            details=details,
            status_salt=new_status_salt(),
        )
        request.duplicate_of = (
            Request.objects.filter(
                controller=controller,
                right=right,
                email__iexact=email,
                state__in=[State.UNCONFIRMED, *OPEN_STATES],
            )
            .order_by("received_at")
            .first()
        )
        request.recompute_deadlines()
        request.save()
        if id_document is not None:
            iddocs.store(request, id_document)
        data = {"channel": channel, "id_document": id_document is not None}
        if request.duplicate_of:
            data["duplicate_of"] = request.duplicate_of.reference
        record_event(
            request,
            actor=actor,
            action="receive",
            from_state="",
            to_state=request.state,
            at=received_at,
            data=data,
        )
        if actor.kind == "officer" and channel != Channel.WEB:
            request = perform(
                request,
                "confirm_email",
                actor=actor,
                has_id_document=id_document is not None,
                now=timezone.now(),
            )
        else:
            queue_mail(request, "confirm")
    return request
