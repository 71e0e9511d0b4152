"""The package follows the data's path: lower layers never import higher ones, and no import circle exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "respirelib"
# Top-level modules (config, errors, paper, runs, ...) are the shared base; then the data's path.
LAYERS = ("base", "data", "signal", "model", "training", "experiments", "viz", "explain", "inference", "apps")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else "base"


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every respirelib module ``path`` imports, at module level or inside functions.

    Imports under ``if TYPE_CHECKING:`` are annotations only, never run, and are left out.
    """
    tree = ast.parse(path.read_text())
    typing_only = {id(inner) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
                   for inner in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "respirelib":
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if _is_module(name) else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "respirelib"}
    return {name for name in found if name != "respirelib"}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module name -> the respirelib modules it imports, for every module under ``package``."""
    return {_module_name(path): _imports(path) for path in sorted(package.rglob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of any length (``[a, b, ..., a]``), or None: a depth-first search for a back edge."""
    state: dict[str, str] = {}  # "open" while on the search path, "done" after
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if target == module:
                continue
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


GRAPH = import_graph()


def test_every_module_belongs_to_a_known_layer():
    assert {_layer(module) for module in GRAPH if module != "respirelib"} <= set(LAYERS)
    for layer in LAYERS[1:]:
        assert (PACKAGE / layer / "__init__.py").is_file()
        docstring = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
        assert docstring and len(docstring) > 100, f"respirelib.{layer} says what it is for"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_lower_layers_never_import_higher_ones(module):
    if module == "respirelib":
        return
    own = LAYERS.index(_layer(module))
    higher = sorted(name for name in GRAPH[module] if LAYERS.index(_layer(name)) > own)
    assert not higher, f"{module} ({LAYERS[own]}) imports {higher} from a higher layer"


def test_no_two_modules_import_each_other():
    mutual = sorted({tuple(sorted((a, b))) for a, targets in GRAPH.items() for b in targets
                     if b != a and a in GRAPH.get(b, set())})
    assert mutual == []


def test_no_import_circle_of_any_length():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_circle_finder_finds_long_circles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"d"}, "d": {"b"}}) == ["b", "c", "d", "b"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_checker_sees_real_imports():
    assert "respirelib.signal.padding" in GRAPH["respirelib.signal.samples"]
    # Imports inside functions count: cli imports the benchmarks only when it builds its parser.
    assert "respirelib.apps.bench" in GRAPH["respirelib.apps.cli"]
    assert _layer("respirelib.config") == "base" and _layer("respirelib.data.synth.plan") == "data"
