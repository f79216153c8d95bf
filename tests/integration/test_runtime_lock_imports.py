"""Every product module imports in a virtualenv holding the runtime lock alone, as the image does."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

from tools.import_graph import module_name, python_files

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("kit", "bus", "services", "gateway")
# Imports each module named on stdin; prints its own prefix and the modules that failed, as JSON.
PROBE = """
import importlib, json, sys, traceback
failed = {}
for name in sys.stdin.read().split():
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-3)
print(json.dumps({"prefix": sys.prefix, "failed": failed}))
"""


def product_modules() -> list[str]:
    """Every product module; a migration environment (`migrations/env.py`) runs only inside Alembic,
    which sets up its context first, so its import is Alembic's to make (kit.migrations does)."""
    names = [module_name(path) for folder in PRODUCT for path in python_files(ROOT / folder)]
    return [name for name in names if not name.endswith(".migrations.env")]


def test_every_product_module_imports_with_the_runtime_lock_alone(tmp_path: Path) -> None:
    folder = tmp_path / "runtime"
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--require-hashes", "--no-deps",
         "-r", ROOT / "requirements" / "runtime.lock"],
        check=True,
        timeout=900,
    )
    modules = product_modules()
    assert "gateway.app" in modules and "bus.runtime" in modules and "kit.migrations" in modules
    # -s: no user site-packages; the folder outside the checkout keeps it off the path but for PYTHONPATH.
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    done = subprocess.run(
        [python, "-s", "-c", PROBE],
        input="\n".join(modules),
        cwd=tmp_path,
        env=environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["prefix"]).resolve() == folder.resolve()
    failed: dict[str, str] = report["failed"]
    assert not failed, "modules that need more than requirements/runtime.lock:\n" + "\n".join(
        f"{name}:\n{error}" for name, error in sorted(failed.items())
    )
