"""The layering holds in fact, not only in import-linter's view of it.

import-linter's contracts forbid imports across layers; they cannot see a cycle between two
modules of one layer, nor a function-level import that runs the other way. Here the import graph
is read from the source with `ast`: no cycle between modules at module level, and none between
the packages at all (function-level imports included; only `if TYPE_CHECKING:` blocks are left
out, since they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "flows", "storage")
# The units whose mutual imports must form no cycle.
UNITS = (
    "bot.cli", "bot.app", "bot.core", "adapters.slack", "adapters.teams", "adapters.local",
    "flows", "storage",
)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, known: set[str], *, top_level_only: bool) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])

    def visit(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            yield node
            if not top_level_only:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        yield from visit([child])
            elif isinstance(node, ast.If | ast.Try):
                yield from visit(node.body + node.orelse)

    for node in visit(tree.body):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target:
                yield target


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the graph, if there is any (iterative depth-first search)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    return [*path[path.index(child) :], child]
                if not state.get(child):
                    state[child] = 1
                    path.append(child)
                    stack.append((child, iter(sorted(graph.get(child, ())))))
                    break
            else:
                state[node] = 2
                path.pop()
                stack.pop()
    return None


def unit_of(module: str) -> str | None:
    return next((u for u in UNITS if module == u or module.startswith(u + ".")), None)


def test_no_import_cycle_between_modules_at_module_level() -> None:
    found = modules()
    graph = {
        name: {t for t in imports(path, set(found), top_level_only=True) if t != name}
        for name, path in found.items()
    }
    # A package's __init__ importing its own modules is how a package re-exports, not a cycle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    assert cycle(graph) is None


def test_no_import_cycle_between_packages() -> None:
    found = modules()
    graph: dict[str, set[str]] = {u: set() for u in UNITS}
    for name, path in found.items():
        source = unit_of(name)
        if source is None:
            continue
        for target in imports(path, set(found), top_level_only=False):
            unit = unit_of(target)
            if unit is not None and unit != source:
                graph[source].add(unit)
    assert cycle(graph) is None


def test_one_exception_tree() -> None:
    """Exceptions are defined in bot/core/errors.py; elsewhere only private control flow, an
    adapter's refinement of a tree member, or what an SDK makes us subclass."""
    found = modules()
    allowed_bases = {"DeliveryError", "BoltError"}
    strays = []
    for name, path in found.items():
        if name == "bot.core.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if any(b.endswith(("Error", "Exception")) for b in bases) and not bases & allowed_bases:
                strays.append(f"{name}.{node.name}")
    assert strays == []


def test_audit_entries_are_built_in_one_place() -> None:
    """storage/audit.py builds every audit row, so `detail` stays ids and counts everywhere."""
    builders = [
        f"{name}:{node.lineno}"
        for name, path in modules().items()
        if name != "storage.audit"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "AuditEntry"
    ]
    assert builders == []
