"""The project's imports read from its source: by statement, by `import_module`/`__import__`, and by name."""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where each package's source sits: the checkout root, and the Python client's own source folder.
SOURCE_ROOTS = (ROOT, ROOT / "clients" / "python" / "src")
# The project's top-level packages; anything else imported is the standard library, a third-party
# library or the generated protobuf code (`travel`).
PROJECT_PACKAGES = frozenset(
    {"kit", "bus", "services", "gateway", "simulated_world", "tools", "launcher", "tests", "examples",
     "travel_client"}
)
# A string that is a whole dotted module path, or a `module:attribute` reference as uvicorn takes.
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?")


class How(enum.Enum):
    """How a module names another."""

    STATEMENT = "import statement"
    DYNAMIC = "import_module/__import__"
    NAMED = "string naming a module"


@dataclass(frozen=True)
class Reference:
    """One module named by another: the named module, the line and how."""

    target: str
    line: int
    how: How

    @property
    def package(self) -> str:
        return self.target.split(".")[0]

    @property
    def imports(self) -> bool:
        """Whether running the code imports the target (a string naming it may only be text)."""
        return self.how is not How.NAMED


def module_name(path: Path) -> str:
    """`services/sessions/app.py` -> `services.sessions.app`; a package's `__init__` is the package."""
    for root in sorted(SOURCE_ROOTS, key=lambda r: len(r.parts), reverse=True):
        if path.is_relative_to(root):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join(parts)
    raise ValueError(f"{path} is outside the project")


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join([*base, module] if module else base)


def _is_dynamic_import(call: ast.Call) -> bool:
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    return name in {"import_module", "__import__"}


def references(source: str, importer: str = "", is_package: bool = False) -> list[Reference]:
    """Every project module `source` names, in line order; `importer` resolves relative imports."""
    found: list[Reference] = []
    dynamic: set[int] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Reference(alias.name, node.lineno, How.STATEMENT) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, importer, is_package)
            if base:
                found.append(Reference(base, node.lineno, How.STATEMENT))
            else:
                # Relative to a top-level folder: each name imported is a top-level package.
                found.extend(Reference(alias.name, node.lineno, How.STATEMENT) for alias in node.names)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(Reference(first.value, node.lineno, How.DYNAMIC))
                dynamic.add(id(first))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in dynamic
            and DOTTED.fullmatch(node.value.strip())
        ):
            found.append(Reference(node.value.strip().partition(":")[0], node.lineno, How.NAMED))
    return sorted(
        (r for r in found if r.package in PROJECT_PACKAGES), key=lambda r: (r.line, r.target, r.how.value)
    )


def python_files(folder: Path) -> Iterator[Path]:
    """The folder's Python source, in a stable order, without caches."""
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def file_references(path: Path) -> list[Reference]:
    """What one source file names."""
    return references(
        path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py"
    )
