"""The product never imports the simulated outside world, the operations tooling or the tests."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("kit", "services", "bus", "gateway", "clients/python/src")
OUTSIDE_THE_PRODUCT = ("simulated_world", "tools", "launcher", "tests", "examples")


def imported_modules(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_the_product_imports_nothing_from_outside_it() -> None:
    crossing = []
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
                if module.split(".")[0] in OUTSIDE_THE_PRODUCT:
                    crossing.append(f"{path.relative_to(ROOT)}: {module}")
    assert not crossing, "the product imports code that is not part of it:\n" + "\n".join(crossing)
