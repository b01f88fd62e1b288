"""The case state machine as a Mermaid diagram, read from the steps table and the transitions.

``python manage.py state_graph`` prints it; the README embeds the output, and a test keeps the two
the same, so the picture cannot drift from the code.
"""

from __future__ import annotations

from django_fsm import RETURN_VALUE

from .models import FINAL_STATES, Case
from .steps import STEPS


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
        # extend keeps the state it is taken from: a note on the diagram, not five loops.
        if step.transition is None or step.name == "extend":
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
    return "\n".join(lines)
