"""The architecture holds: import-linter's contracts (pyproject.toml) and no import cycle.

Both count function-local imports: a cycle hidden inside a function is still a cycle.
"""

from __future__ import annotations

import subprocess
import tomllib

import grimp

from .procs import BIN, ROOT


def root_packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config["root_packages"]


def test_import_linter_keeps_every_contract():
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_every_package_of_the_project_is_in_a_layer():
    """A new app that import-linter does not know about would escape every contract."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(root_packages())


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[set[str]]:
    """Tarjan's algorithm over the module-level import graph; components of more than one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_of_the_project_imports_itself_back():
    graph = grimp.build_graph(*root_packages(), cache_dir=None)
    modules = {m for m in graph.modules if ".migrations" not in m}
    assert strongly_connected(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle():
    """The check above could pass by finding nothing at all; on a known cycle it must not."""
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert strongly_connected(graph, {"a.x", "a.y", "a.z"}) == [{"a.x", "a.y"}]


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_fulfilment_keeps_its_two_rooms_apart_above_the_systems():
    """Searches and changes share the systems and nothing else (issue 22): the contracts that
    say so are declared, so the run above checks them."""
    declared = contracts()
    assert declared["rooms"]["type"] == "layers"
    assert declared["rooms"]["containers"] == ["fulfilment"]
    assert declared["rooms"]["layers"] == ["searches | changes", "systems"]
    assert declared["rooms-apart"]["type"] == "independence"
    assert set(declared["rooms-apart"]["modules"]) == {"fulfilment.searches", "fulfilment.changes"}


def test_fulfilment_holds_at_its_top_only_the_wiring():
    """Everything else lives in a room, where the contracts see it: a module added beside the
    wiring would escape them."""
    top = {p.stem for p in (ROOT / "fulfilment").glob("*.py")}
    assert top == {"__init__", "admin", "admin_urls", "apps", "hooks", "models", "report", "urls"}
    rooms = {p.parent.name for p in (ROOT / "fulfilment").glob("*/__init__.py")}
    assert rooms == {"systems", "searches", "changes", "management", "migrations"}
