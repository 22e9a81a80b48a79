"""The package layout is the flow (docs/development.md): no module of metta_ab imports one that imports it back,
directly or through others, and the stages do not either. Every import counts, deferred ones and those only
for type checking included: a cycle hidden in a function is still two modules that cannot be read apart."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "metta_ab"
STAGES = ("definition", "plan", "records", "sources", "analysis", "stats", "report")

pytestmark = pytest.mark.hydra_independent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The metta_ab modules `path` imports anywhere in its code (`from pkg import name` counts name when it is
    a module, else pkg)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths)
    graph = {name: imports_of(path, modules) - {name} for name, path in paths.items()}
    for name in modules:  # importing a.b.c runs a/__init__ and a/b/__init__ first: no edge to count there
        graph[name] = {target for target in graph[name] if not name.startswith(target + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []


def test_the_stages_import_each_other_in_one_direction():
    graph = import_graph()
    stages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        stages.setdefault(stage_of(module), set()).update(
            stage_of(t) for t in targets if stage_of(t) != stage_of(module)
        )
    assert cycles(stages) == []
    assert stages["stats"] == set(), "the statistics are pure functions on arrays"
    assert stages["definition"] <= {"stats", "atomic_files"}, "the definition knows nothing of runs or results"


def test_the_check_finds_a_cycle():
    """The checks above could pass by finding nothing: they do find one."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert set(STAGES) <= {stage_of(module) for module in import_graph()}


@pytest.mark.slow
def test_the_definition_loads_without_the_statistics():
    """Hydra imports the plugin, and with it the experiment definition, at every app start: the definition reads
    the statistics' defaults only when it resolves settings, so numpy and scipy stay unloaded until then."""
    code = (
        "import sys, hydra_plugins.ab_sweeper, metta_ab.definition.experiment as e; "
        "loaded = sorted(m for m in ('numpy', 'scipy', 'metta_ab.stats') if m in sys.modules); "
        "e.AnalysisSettings().resolved(); print(loaded, 'metta_ab.stats.settings' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["[]", "True"]
