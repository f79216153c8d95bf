"""Writes the `[project.scripts]` commands of pyproject.toml into a virtualenv's bin/, as pip would.

The project runs from the checkout (a .pth file puts it on the path) and is never pip-installed, so
nothing else makes its commands; a written script needs no build backend and no network.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """#!{python}
# Written by `make setup` (tools/venv_commands.py) from [project.scripts] in pyproject.toml.
import sys

from {module} import {function}

if __name__ == "__main__":
    sys.exit({function}())
"""


def commands(pyproject: Path) -> dict[str, str]:
    """Command name -> `module:function`, as pyproject.toml declares them."""
    declared = tomllib.loads(pyproject.read_text())["project"].get("scripts", {})
    return {str(name): str(target) for name, target in declared.items()}


def script(python: Path, target: str) -> str:
    module, _, function = target.partition(":")
    if not module or not function.isidentifier():
        raise ValueError(f"{target!r} is no module:function entry point")
    return SCRIPT.format(python=python, module=module, function=function)


def write_commands(venv: Path, pyproject: Path) -> list[Path]:
    bin_dir = venv.resolve() / "bin"
    written = []
    for name, target in commands(pyproject).items():
        path = bin_dir / name
        path.write_text(script(bin_dir / "python", target))
        path.chmod(0o755)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_commands(Path(sys.argv[1] if len(sys.argv) > 1 else ".venv"), ROOT / "pyproject.toml"):
        print(f"wrote {path}")
