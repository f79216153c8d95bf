"""A virtualenv made from nothing by uv, with none of the project on its path, for what clients install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"


def fresh_venv(folder: Path, *requirements: str) -> Path:
    """A new virtualenv in `folder` with `requirements` installed from the registry; its python."""
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, folder], check=True)
    python = folder / "bin" / "python"
    if requirements:
        subprocess.run([UV, "pip", "install", "-q", "--python", python, *requirements], check=True)
    return python


def run_isolated(
    python: Path, args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run `python args` from `cwd` (outside the checkout) with `env` over ours, less PYTHONPATH."""
    clean = {k: v for k, v in (os.environ | (env or {})).items() if k != "PYTHONPATH"}
    return subprocess.run(
        [python, *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=timeout, check=False
    )


def build_wheel(out: Path) -> Path:
    """The travel-agency-client wheel, built as `make client` builds it (from gen/, so `make gen` first)."""
    subprocess.run([UV, "build", "-q", "--wheel", ROOT / "clients" / "python", "-o", out], check=True)
    (wheel,) = out.glob("travel_agency_client-*.whl")
    return wheel
