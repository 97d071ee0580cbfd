"""The layering rule of docs/layers.md, read off the code: every package imports only from the layers below
its own (never sideways, never up), and no import hides inside a function unless it says why.

The rule has the shape of import-linter's layers contract; it is checked here by reading every import
statement with `ast` (module level and inside functions alike), so it cannot silently come back.
"""
from __future__ import annotations

import ast
import importlib.machinery
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. Packages in one layer are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    ("app",),
    ("members",),
    ("tiers", "vip"),
    ("points", "catalog"),
    ("coupons",),
    ("till", "benefits", "tasks", "mall"),
    ("card", "marketing", "notifications", "distribution"),
    ("reports", "webhooks", "onboarding"),
    ("console",),
    ("demo",),
    ("server",),
]
LAYER_OF = {package: index for index, layer in enumerate(LAYERS) for package in layer}
LAZY_REASON = "# lazy:"  # an import inside a function must carry this comment, with its reason


def _modules(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _imports(tree: ast.Module):
    """(imported top-level package, line, inside a function?) for every absolute import."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.walk(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    inside.add(id(child))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module.split(".")[0], node.lineno, id(node) in inside
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno, id(node) in inside


def test_every_package_has_a_layer():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench", "migrations", "scripts"}
    assert packages == set(LAYER_OF), "add the new package to LAYERS here and to docs/layers.md"


def _upward(package: str, tree: ast.Module) -> list[str]:
    """The imports of one module of `package` that break the rule: same layer or above."""
    layer = LAYER_OF[package]
    return [f"line {line} imports {imported} (layer {LAYER_OF[imported]}, not below {package}'s {layer})"
            for imported, line, _ in _imports(tree)
            if imported in LAYER_OF and imported != package and LAYER_OF[imported] >= layer]


def test_packages_import_only_from_below():
    wrong = [f"{path.relative_to(ROOT)}: {problem}"
             for package in LAYER_OF for path, tree in _modules(package) for problem in _upward(package, tree)]
    assert not wrong, "\n".join(wrong)


def test_imports_inside_functions_say_why():
    """An import inside a function is a cycle being dodged unless it is truly lazy (a heavy or optional
    module that most processes never need): then the line says so."""
    unexplained = []
    for package in LAYER_OF:
        for path, tree in _modules(package):
            lines = path.read_text().splitlines()
            for imported, line, inside in _imports(tree):
                if inside and LAZY_REASON not in lines[line - 1]:
                    unexplained.append(f"{path.relative_to(ROOT)}:{line} ({imported})")
    assert not unexplained, "\n".join(unexplained)


def test_the_documented_table_matches():
    """docs/layers.md lists the same layers, lowest first, as this test enforces."""
    text = (ROOT / "docs" / "layers.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", text, flags=re.M)
    documented = [tuple(sorted(re.findall(r"`(\w+)`", names))) for _, names in rows]
    assert documented == [tuple(sorted(layer)) for layer in LAYERS]


def test_a_break_of_the_rule_is_caught():
    """The check itself can fail: upward and sideways imports, at module level or hidden in a function."""
    assert _upward("points", ast.parse("def f():\n    from reports import rollups\n")) == [
        "line 2 imports reports (layer 7, not below points's 3)"]
    assert _upward("till", ast.parse("import tasks.service\n")) == [
        "line 1 imports tasks (layer 5, not below till's 5)"]
    assert _upward("till", ast.parse("from points import ledger\nimport sqlalchemy\n")) == []


def test_no_package_shadows_a_module_of_python_or_its_packages():
    """`rq worker` and other tools append the project to sys.path: a package named like a standard-library
    module (`profile`) or an installed one would lose to it there and fail to import."""
    others = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT]
    shadowed = {package: spec.origin for package in LAYER_OF
                if (spec := importlib.machinery.PathFinder.find_spec(package, others)) is not None}
    shadowed.update({name: "built in" for name in LAYER_OF if name in sys.builtin_module_names})
    assert shadowed == {}
