"""The package's layers: imports only point down, and project imports sit at the top.

Read from the source with ``ast`` (nothing is imported), so a new module that
climbs a layer, hides a project import inside a function, or reaches for a
name its module no longer has fails here with the file and line.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "analysis"
#: Lowest first: a module may import from its own layer and the ones before it.
LAYERS = ("core", "data", "methods", "present", "reports", "pipeline")
#: The package root only wires things up (the nbformat guard, ``python -m analysis``).
ROOT_MODULES = {"analysis/__init__.py", "analysis/__main__.py"}


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "analysis" or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def project_imports(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """(line, module imported, at module level) for every import of the project."""
    found: list[tuple[int, str, bool]] = []
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0 \
                    and child.module.split(".")[0] == "analysis":
                for alias in child.names:
                    sub = f"{child.module}.{alias.name}"
                    found.append((child.lineno, child.module if layer_of(child.module) is not None
                                  else sub, top_level))
            elif isinstance(child, ast.Import):
                found.extend((child.lineno, a.name, top_level) for a in child.names
                             if a.name.split(".")[0] == "analysis")
            visit(child, top_level and not isinstance(child, scopes))

    visit(tree, True)
    return found


def test_every_module_sits_in_a_layer() -> None:
    stray = [str(p.relative_to(ROOT)) for p in modules()
             if str(p.relative_to(ROOT)) not in ROOT_MODULES and layer_of(dotted(p)) is None]
    assert not stray, f"modules outside the layers {LAYERS}: {stray}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_and_sit_at_the_top(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    own = layer_of(dotted(path))
    problems = []
    for line, target, top_level in project_imports(ast.parse(path.read_text())):
        theirs = layer_of(target)
        if rel in ROOT_MODULES:
            continue
        if theirs is None:
            problems.append(f"{rel}:{line} imports {target}, which is in no layer")
        elif own is not None and theirs > own:
            problems.append(f"{rel}:{line} ({LAYERS[own]}) imports {target} ({LAYERS[theirs]}),"
                            " a higher layer")
        if not top_level:
            problems.append(f"{rel}:{line} imports {target} inside a function or class")
    assert not problems, "\n".join(problems)


def top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def checked_sources() -> list[Path]:
    return modules() + sorted((ROOT / "tests").glob("*.py")) + sorted(
        (ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "notebooks").glob("*.ipynb"))


def source_of(path: Path) -> str:
    """A module's text, or a notebook's code cells joined (magics and shell lines dropped)."""
    if path.suffix != ".ipynb":
        return path.read_text()
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return "\n".join(line for cell in code for line in cell.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("path", checked_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_names_taken_from_project_modules_exist(path: Path) -> None:
    """``from analysis.x import name`` and ``alias.name`` name something ``x`` defines."""
    tree = ast.parse(source_of(path))
    aliases: dict[str, Path] = {}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "analysis":
            source = module_file(node.module)
            for alias in node.names:
                sub = module_file(f"{node.module}.{alias.name}")
                if sub is not None:
                    aliases[alias.asname or alias.name] = sub
                elif source is None or alias.name not in top_level_names(source):
                    problems.append(f"line {node.lineno}: {node.module} has no {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "analysis" and alias.asname:
                    target = module_file(alias.name)
                    if target is None:
                        problems.append(f"line {node.lineno}: no module {alias.name}")
                    else:
                        aliases[alias.asname] = target
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases:
            if not node.attr.startswith("__") and \
                    node.attr not in top_level_names(aliases[node.value.id]):
                problems.append(f"line {node.lineno}: {node.value.id}.{node.attr} is not defined"
                                f" in {aliases[node.value.id].relative_to(ROOT)}")
    assert not problems, "\n".join(problems)


def test_no_import_cycles() -> None:
    """The module graph has no cycle (a cycle breaks depending on which module loads first)."""
    known = {dotted(p): p for p in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for _, target, _ in project_imports(ast.parse(path.read_text())):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not target.endswith(("analysis", "__init__")) \
                    and module_file(target) and module_file(target).name != "__init__.py":
                targets.add(target)
        graph[name] = targets
    state: dict[str, int] = {}
    cycles: list[str] = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    assert not cycles, "\n".join(cycles)
