"""The admin home page's overview of the user's queue: what is overdue, due today, this week."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from cases.selectors import queue_summary as summarise

from .. import scope
from ..inbox import needing_a_look

register = template.Library()


@register.inclusion_tag("admin/dsar/queue_summary.html", takes_context=True)
def queue_summary(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    if request is None or not scope.is_member(request):
        return {"summary": None}
    now = timezone.now()
    return {
        "summary": summarise(scope.visible_cases(request), now),
        "queue": reverse("admin:dsar_case_changelist"),
        "needing_a_look": needing_a_look(request, now),
        "inbox": reverse("admin:dsar_inboundmail_changelist"),
    }
