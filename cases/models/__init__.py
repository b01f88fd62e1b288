"""The case core's tables, one module a concern.

- ``case``: the case (state machine, deadlines), its suspensions, reminder milestones, references;
- ``events``: the append-only, hash-chained audit trail;
- ``messages``: what the controller and the subject wrote to each other;
- ``documents``: encrypted ID copies;
- ``mail``: outgoing mail rows and inbound mail as received.

Every table that hangs off a case lives here, in the core; the rooms above it (reminders, mail
in, fulfilment, reports) own behaviour and their own new tables, never a table of the core.
"""

from .case import (
    DECIDED_STATES,
    DECISION_UNSENT,
    FINAL_STATES,
    OPEN_STATES,
    REFERENCE,
    WAITING_STATES,
    Case,
    Channel,
    Language,
    Milestone,
    PauseReason,
    ReferenceCounter,
    State,
    Suspension,
)
from .documents import IdDocument
from .events import CaseEvent
from .grounds import ObjectionTo, RefusalGround
from .mail import Carries, InboundMail, MailStatus, OutgoingMail
from .messages import Direction, Message

__all__ = [
    "DECIDED_STATES",
    "DECISION_UNSENT",
    "FINAL_STATES",
    "OPEN_STATES",
    "REFERENCE",
    "WAITING_STATES",
    "Carries",
    "Case",
    "CaseEvent",
    "Channel",
    "Direction",
    "IdDocument",
    "InboundMail",
    "Language",
    "MailStatus",
    "Message",
    "Milestone",
    "ObjectionTo",
    "OutgoingMail",
    "PauseReason",
    "ReferenceCounter",
    "RefusalGround",
    "State",
    "Suspension",
]
