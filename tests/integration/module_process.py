"""Run `python -m <module>` as a real process on port 0 and learn its ports from its log."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
METRICS_LINE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")


@dataclass
class Started:
    process: subprocess.Popen[str]
    ports: dict[str, int]

    def metrics_text(self) -> str:
        answer = httpx.get(f"http://127.0.0.1:{self.ports['metrics']}/metrics", timeout=5)
        assert answer.status_code == 200
        return answer.text


def start_process(module: str, env: dict[str, str], listening: re.Pattern[str] | None) -> Iterator[Started]:
    """Yield the running process once it logged its metrics port (and its service port, if it has one)."""
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={**os.environ, **env, "METRICS_PORT": "0", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def read_lines() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read_lines, daemon=True).start()
    ports: dict[str, int] = {}
    wanted = 1 if listening is None else 2
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(ports) < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                pytest.fail(f"{module} did not start: {''.join(seen[-20:])}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            seen.append(line)
            if found := METRICS_LINE.search(line):
                ports["metrics"] = int(found.group(1))
            if listening is not None and (found := listening.search(line)):
                ports["service"] = int(found.group(1))
        yield Started(process, ports)
    finally:
        process.terminate()
        process.wait(timeout=30)
