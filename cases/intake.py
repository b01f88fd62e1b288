"""Receiving a request: stored first (the clock starts here), then confirmed by email.

``receive_case`` is the one way a case comes into being, whatever the channel: the public
form, an officer recording a phone call or letter (issue 4), or email intake (issue 5).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.db.models import QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone

from controllers.models import Controller, Right
from controllers.policy import in_force

from . import iddocs
from .actors import Actor
from .audit import record_event
from .links import new_status_salt
from .mail import queue_mail
from .models import OPEN_STATES, Case, Channel, ObjectionTo, ReferenceCounter, State
from .workflow import perform


def next_reference(year: int) -> str:
    """DSAR-<year>-<number>, numbered without gaps per year, safe under concurrent intake.

    One statement: the first of a year inserts the counter, every other one increments it, and
    the row stays locked until the transaction ends (so take it as late as possible)."""
    table = connection.ops.quote_name(ReferenceCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last) VALUES (%s, 1) "  # noqa: S608 - our table's name
            f"ON CONFLICT (year) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [year],
        )
        (number,) = cursor.fetchone()
    return f"DSAR-{year}-{number:06d}"


def open_cases_of(controller: Controller, right: str, email: str) -> QuerySet[Case]:
    """The open requests of an address for one right at one controller, oldest first.

    Read through the index on the lowercased address: ``email__iexact`` would scan every case
    of the controller on each intake."""
    return (
        Case.objects.annotate(lower_email=Lower("email"))
        .filter(
            controller=controller,
            right=right,
            # Lowercased by the database, as the index is: Python's lower() differs from SQL's
            # LOWER for some non-ASCII letters, and the lookup would then miss its duplicate.
            lower_email=Lower(Value(email)),
            state__in=[State.UNCONFIRMED, *OPEN_STATES],
        )
        .order_by("received_at")
    )


def earlier_open_case(controller: Controller, right: str, email: str) -> Case | None:
    """The request a new one may duplicate; only id and reference are read, which is all the
    duplicate mark needs."""
    return open_cases_of(controller, right, email).only("pk", "reference").first()


def receive_case(
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
    objection_to: str = "",
) -> Case:
    """Store a new request in the awaiting-confirmation state and mail the confirmation link.

    An officer recording a request that reached the controller by phone, post or email (``actor``
    an officer, ``channel`` not web) confirms it at once: no confirmation mail goes out, the
    clock starts at ``received_at`` (the real time of receipt, not of data entry).
    ``objection_to``: what an objection is to, as the subject says (``ObjectionTo``; kept
    only for an objection).
    """
    if objection_to and objection_to not in ObjectionTo.values:
        raise ValueError(f"not a kind of objection: {objection_to!r}")
    objection_to = objection_to if right == Right.OBJECTION else ""
    received_at = received_at or timezone.now()
    actor = actor or Actor.subject()
    duplicate_of = earlier_open_case(controller, right, email)
    # The rules this request is received under, named in its hash-chained first event: the
    # auditor's report proves them even after the registry changes (controllers.PolicyVersion).
    policy = in_force(controller)
    with transaction.atomic():
        case = Case(
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
            objection_to=objection_to,
            status_salt=new_status_salt(),
            duplicate_of=duplicate_of,
        )
        case.recompute_deadlines()
        # The counter's row lock is held until commit: what can be done before it, is (the
        # duplicate lookup, the deadlines), so concurrent intakes wait on each other the least.
        case.reference = next_reference(timezone.localdate(received_at).year)
        case.save()
        if id_document is not None:
            iddocs.store(case, id_document)
        data = {"channel": channel, "id_document": id_document is not None, "policy": policy}
        if objection_to:
            data["objection_to"] = objection_to
        if case.duplicate_of:
            data["duplicate_of"] = case.duplicate_of.reference
        record_event(
            case,
            actor=actor,
            action="receive",
            from_state="",
            to_state=case.state,
            at=received_at,
            data=data,
        )
        if actor.kind == "officer" and channel != Channel.WEB:
            case = perform(
                case,
                "confirm_email",
                actor=actor,
                now=timezone.now(),
            )
        else:
            queue_mail(case, "confirm", at=received_at)
    return case
