"""The processes read the environment only through declared settings, so the settings table lists them all."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Where the processes, the simulated providers and the launcher live; Env alone reads the mapping.
FOLDERS = ("kit", "services", "simulated_world", "gateway", "launcher")
ENV_ITSELF = ROOT / "kit" / "settings.py"
DIRECT_READ = re.compile(
    r"os\.environ\.get\(|os\.getenv\(|os\.environ\[|\benv\.(str|int|float|bool|optional)\("
)


def test_no_process_reads_a_variable_without_its_declaration() -> None:
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ENV_ITSELF:
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if DIRECT_READ.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "declare these settings and read them through the declaration:\n" + "\n".join(found)
