"""The package's import graph, read from the source: every import counts, in a function or not."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

SOURCE = Path(__file__).parents[1] / "src" / "gitops_ml"


def imports() -> dict[str, set[str]]:
    """Each module of gitops_ml and the modules of gitops_ml it imports."""
    graph = {}
    for path in SOURCE.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "gitops_ml":
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gitops_ml."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("gitops_ml.")}
        graph[path.stem] = found - {path.stem}
    modules = set(graph)
    return {module: found & modules for module, found in graph.items()}  # not names like gitops_ml.NAME


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for module in graph.get(todo.pop(), set()) - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_no_module_imports_itself_through_others() -> None:
    graph = imports()
    assert len(graph) > 30  # the whole package was read
    cycles = sorted(module for module in graph if module in reachable(graph, module))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_release_and_model_card_do_not_go_through_the_pull_request_report() -> None:
    graph = imports()
    for module in ("release", "model_card", "bento", "package"):
        assert "report" not in reachable(graph, module) | {module}, module


def test_every_module_the_service_imports_ships_in_the_bento() -> None:
    included = yaml.safe_load((SOURCE.parents[1] / "bentofile.yaml").read_text())["include"]
    shipped = {Path(entry).stem for entry in included if entry.endswith(".py")}
    needed = reachable(imports(), "service") | {"service"}
    assert needed <= shipped, f"imported by the service but not in bentofile.yaml: {sorted(needed - shipped)}"
