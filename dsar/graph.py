"""The request state machine as a Mermaid diagram, read from the model's transitions.

``python manage.py state_graph`` prints it; the README embeds the output, and a test keeps the two
the same, so the picture cannot drift from the code.
"""

from __future__ import annotations

from django_fsm import RETURN_VALUE

from .models import Request


def transitions() -> list[tuple[str, str, str]]:
    edges: set[tuple[str, str, str]] = set()
    for transition in Request().get_all_state_transitions():
        target = transition.target
        if isinstance(target, RETURN_VALUE):
            targets = list(target.allowed_states or [])
        else:
            targets = [target]
        for to in targets:
            if transition.name == "extend":
                continue  # keeps the state it is taken from: a note, not five loops
            edges.add((str(transition.source), str(to), transition.name))
    return sorted(edges)


def mermaid() -> str:
    lines = ["stateDiagram-v2", "    [*] --> unconfirmed: receive"]
    lines += [f"    {source} --> {target}: {name}" for source, target, name in transitions()]
    lines += [f"    {final} --> [*]" for final in ("completed", "refused", "withdrawn", "expired")]
    lines.append(
        "    note right of in_progress: extend (once, within the first month)"
        " is possible in every open state and keeps it"
    )
    return "\n".join(lines)
