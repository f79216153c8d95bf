"""`make run` (the launcher) brings every service database to the newest revision before starting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kit.migrations import head, migrated_services, require_head

ROOT = Path(__file__).resolve().parents[3]


def test_the_launcher_migrates_every_service_database_first(tmp_path: Path, redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DB_SCHEMA_PREFIX"}}
    env |= {"TRAVEL_DATA_DIR": str(tmp_path), "REDIS_URL": redis_url}
    # `--only` naming nothing: the launcher does what precedes the processes, then has none to run.
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "--only"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for service in migrated_services():
        assert f"launcher: {service} database at revision {head(service)}" in done.stdout
        require_head(f"sqlite:///{tmp_path / f'{service}.sqlite3'}", None, service)
