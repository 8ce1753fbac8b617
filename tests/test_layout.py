"""The package's layering, checked on the source: each folder imports only the folders below it,
and there is no import cycle. Imports inside functions count like the others (a lazy import
kept for a worker's start-up time is fine; one that hides a cycle is not).

Layers, lowest first: ``config``/``logs``/``crashpoints``; ``storage`` (tables, engines,
registry, session); ``features``; ``ingest`` (reading and validating the inputs); ``models``
(members, heads, the torch loop, fusion); ``reports``; ``stages`` (the orchestration of each
job); ``cli``/``notebook``. ``sample`` (the built-in sample generator) sits beside the stages
and outside the production path: no stage imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "catalog_classifier"
LAYER: dict[str, float] = {
    "config": 0,
    "logs": 0,
    "crashpoints": 0,  # the fault suite's kill hook, called from storage and the stages
    "pictures": 0,  # drawn product pictures: the sample's photos, the int8 calibration set
    "storage": 1,
    "features": 2,
    "ingest": 2.5,  # uses features.imaging (safe image decoding)
    "models": 3,
    "reports": 4,
    "stages": 5,
    "sample": 5,
    "review": 5,
    "cli": 6,
    "notebook": 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported project module, imported inside a function?) for each project import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("catalog_classifier."):
                        found.append((alias.name, inner))
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module.split(".")[0] == "catalog_classifier":
                    for alias in child.names:
                        # `from package import module` imports the module
                        name = f"{child.module}.{alias.name}"
                        found.append((name if name in MODULES else child.module, inner))
            visit(child, inner)

    visit(tree, False)
    return found


def _top(module: str) -> str:
    return module.split(".")[1]


def test_every_top_level_name_has_a_layer():
    tops = {_top(m) for m in MODULES if m != "catalog_classifier"}
    assert tops <= set(LAYER), f"modules or folders without a layer: {sorted(tops - set(LAYER))}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers_only(module):
    if module == "catalog_classifier":
        return
    mine = _top(module)
    for imported, _ in _imports(MODULES[module]):
        theirs = _top(imported)
        if theirs == mine:
            continue
        assert LAYER[theirs] < LAYER[mine], f"{module} imports {imported}: upward or sideways"


def test_there_is_no_import_cycle():
    graph = {
        m: {i for i, _ in _imports(p) if i in MODULES and i != m}
        for m, p in MODULES.items()
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)

