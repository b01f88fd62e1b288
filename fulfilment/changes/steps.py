"""The steps of the rights that change data, added to the core's table by fulfilment's
AppConfig.ready (``cases.steps.register``). Neither changes the case's state: what they start
is this room's (``fulfilment.hooks`` calls ``execute.approve`` and
``completion.announce_lift`` when they are taken; ``checks.check`` holds them back until the
plan is the one reviewed).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from cases.models import State
from cases.steps import Field, Step
from controllers.models import Right

# The hash the officer reviewed: the step's link from the panel fills it in.
_PLAN = Field(
    "plan",
    "text",
    _("SHA-256 of the plan you reviewed (as shown in the case file)"),
    max_length=64,
)

APPROVE_PLAN = Step(
    "approve_plan",
    label=_("Approve the plan of changes"),
    event=_("Plan of changes approved"),
    who=frozenset({"officer"}),
    # Erasure, restriction, rectification, objection, withdrawal of consent: the plan
    # (plans.py) must exist and be the one reviewed; its changes run after.
    only_from=(State.IN_PROGRESS,),
    rights=(
        Right.ERASURE,
        Right.RESTRICTION,
        Right.RECTIFICATION,
        Right.OBJECTION,
        Right.WITHDRAW_CONSENT,
    ),
    fields=(_PLAN,),
)

LIFT_RESTRICTION = Step(
    "lift_restriction",
    label=_("Lift the restriction"),
    event=_("Restriction to be lifted; subject told (Art. 18(3))"),
    who=frozenset({"officer"}),
    # A completed restriction: the subject is told now, the rows are released after the
    # notice period (execute.py); the lifting's plan is approved by this.
    only_from=(State.COMPLETED,),
    rights=(Right.RESTRICTION,),
    fields=(
        _PLAN,
        Field("reason", "text", _("Why it is lifted (sent to the subject)")),
        Field("message", "message", _("Message to the subject"), required=False),
    ),
)

# Each with the core's step its button stands before on the case page.
STEPS = ((APPROVE_PLAN, "prepare_response"), (LIFT_RESTRICTION, "message"))
