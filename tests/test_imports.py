"""The package's import graph, read from the source: every import counts, in a function or not; and what the
light commands load when they start.

The folders of ``src/gitops_ml`` are its parts, stacked in layers: a module imports from its own part
or from a lower layer, never upwards and never sideways into another part of its layer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml
from pathspec import PathSpec

SOURCE = Path(__file__).parents[1] / "src" / "gitops_ml"
ROOT = ""  # gitops_ml/__init__.py: the package's name, shipped in every Bento
LAYERS = [
    {"core"},  # settings, paths, files, git: what every part shares
    {"quality", "serving", "team"},  # model metrics and comparisons; the service, which ships alone; team servers
    {"pipeline"},  # the DVC stages
    {"report", "release", "monitoring", "adoption"},  # what reads the pipeline's results; life beside the template
    {"cli"},  # the commands
    {"__main__"},  # python -m gitops_ml
]
LAYER = {part: level for level, parts in enumerate(LAYERS) for part in parts} | {ROOT: -1}


def module_of(path: Path) -> str:
    """``core/settings.py`` → ``core.settings``; ``core/__init__.py`` → ``core``; the root → ``""``."""
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    return module.split(".")[0]


def imports() -> dict[str, set[str]]:
    """Each module of gitops_ml and the modules of gitops_ml it imports."""
    modules = {module_of(path): path for path in SOURCE.rglob("*.py")}

    def resolve(package: str, names: list[str]) -> set[str]:
        """``from gitops_ml.<package> import <names>``: the submodules named, else the package itself."""
        found = {f"{package}.{name}".strip(".") for name in names} & set(modules)
        return found if len(found) == len(names) else found | {package}

    graph = {}
    for module, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{module}: relative import"
                name = node.module or ""
                if name == "gitops_ml" or name.startswith("gitops_ml."):
                    found |= resolve(name.removeprefix("gitops_ml").lstrip("."), [a.name for a in node.names])
            elif isinstance(node, ast.Import):
                found |= {a.name.removeprefix("gitops_ml.") for a in node.names if a.name.startswith("gitops_ml.")}
        unknown = found - set(modules)
        assert not unknown, f"{module} imports modules that do not exist: {sorted(unknown)}"
        graph[module] = found - {module}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for module in graph.get(todo.pop(), set()) - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_no_module_imports_itself_through_others() -> None:
    graph = imports()
    assert len(graph) > 40  # the whole package was read
    cycles = sorted(module for module in graph if module in reachable(graph, module))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_every_folder_of_the_package_has_its_place_in_the_layers() -> None:
    parts = {part_of(module) for module in imports()}
    assert parts == set(LAYER), f"place these in LAYERS: {sorted(parts - set(LAYER))}"


def test_no_module_imports_upwards_or_into_another_part_of_its_layer() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, found in imports().items()
        for imported in sorted(found)
        if part_of(imported) != part_of(module) and LAYER[part_of(imported)] >= LAYER[part_of(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_root_module_imports_nothing_of_the_package() -> None:
    """Every part imports it, and every Bento ships it."""
    assert imports()[ROOT] == set()


def test_every_module_the_service_imports_ships_in_the_bento() -> None:
    bentofile = yaml.safe_load((SOURCE.parents[1] / "bentofile.yaml").read_text())
    shipped = PathSpec.from_lines("gitwildmatch", bentofile["include"])
    graph = imports()
    needed = reachable(graph, "serving.service") | {"serving.service"}
    needed |= {".".join(module.split(".")[:end]) for module in needed for end in range(module.count(".") + 1)}
    assert {part_of(module) for module in needed} == {ROOT, "serving"}, sorted(needed)
    for module in needed:
        file = SOURCE / module.replace(".", "/")
        file = file / "__init__.py" if file.is_dir() else file.with_suffix(".py")
        assert shipped.match_file(file.relative_to(SOURCE.parent).as_posix()), f"{module} is not in the Bento"


def test_the_steps_that_read_recorded_figures_start_without_the_modelling_libraries() -> None:
    """Each release, deployment and comment step is a process of its own in a workflow, and only reads figures the
    pipeline recorded: importing scikit-learn, matplotlib, MLflow or BentoML would cost each step seconds."""
    steps = ["gitops_ml.cli", "gitops_ml.release.steps", "gitops_ml.release.promotion", "gitops_ml.report.comment"]
    heavy = ["sklearn", "scipy", "matplotlib", "great_expectations", "mlflow", "bentoml"]
    code = f"import sys, {', '.join(steps)}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
