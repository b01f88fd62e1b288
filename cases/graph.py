"""The case state machine as a Mermaid diagram, read from the steps table and the transitions.

``python manage.py state_graph`` prints it; the README embeds the output, and a test keeps the two
the same, so the picture cannot drift from the code.
"""

from __future__ import annotations

from django_fsm import RETURN_VALUE

from .models import FINAL_STATES, Case
from .steps import STEPS

# The steps that keep the state they are taken from.
KEEP_STATE = ("extend", "record_objection")


def transitions() -> list[tuple[str, str, str]]:
    """(source, target, step) for every step that changes the state."""
    by_method: dict[str, list[tuple[str, list[str]]]] = {}
    for transition in Case().get_all_state_transitions():
        target = transition.target
        targets = (
            list(target.allowed_states or []) if isinstance(target, RETURN_VALUE) else [target]
        )
        by_method.setdefault(transition.name, []).append((str(transition.source), targets))
    edges: set[tuple[str, str, str]] = set()
    for step in STEPS.values():
        # extend and record_objection keep the state they are taken from: a note on the
        # diagram, not a loop on every state.
        if step.transition is None or step.name in KEEP_STATE:
            continue
        for source, targets in by_method[step.transition]:
            if step.only_from and source not in step.only_from:
                continue
            edges.update((source, str(target), step.name) for target in targets)
    return sorted(edges)


def mermaid() -> str:
    lines = ["stateDiagram-v2", "    [*] --> unconfirmed: receive"]
    lines += [f"    {source} --> {target}: {name}" for source, target, name in transitions()]
    lines += [f"    {final} --> [*]" for final in FINAL_STATES]
    lines.append(
        "    note right of in_progress: extend (once, within the first month)"
        " is possible in every open state and keeps it"
    )
    lines.append(
        "    note left of in_progress: record_objection (what an objection is to)"
        " is possible before the end and keeps the state"
    )
    return "\n".join(lines)
