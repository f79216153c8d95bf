"""`make test` announces each tier, lists its slowest tests and stops a hung test."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TIERS = ("test-unit", "test-contract", "test-integration", "test-e2e")


def recipe(target: str) -> str:
    """The commands `make -n` would run for `target`, without running them."""
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target, "PY=python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_make_test_runs_every_tier_in_turn() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (line,) = [each for each in makefile.splitlines() if "$(MAKE)" in each and "test-e2e" in each]
    assert re.findall(r"test-\w+", line) == list(TIERS)


def test_each_tier_announces_itself_lists_its_slowest_tests_and_has_a_timeout() -> None:
    for tier in TIERS:
        commands = recipe(tier)
        assert re.search(r"printf .*== .* tests", commands), f"{tier} does not say which tier runs"
        assert "--durations=" in commands, f"{tier} does not list its slowest tests"
        assert re.search(r"--timeout=\d+", commands), f"{tier} has no timeout"


def test_a_hung_test_is_stopped_by_the_timeout(tmp_path: Path) -> None:
    hung = tmp_path / "test_hung.py"
    hung.write_text("import threading\n\ndef test_waits_forever():\n    threading.Event().wait()\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=1", str(hung)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Timeout" in done.stdout
