"""Where a native profile's busy samples go, by library: py-spy `--native` stacks grouped by the
library of the innermost frame that names one (a system call counts for the library that made it)."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence

# Innermost frames of a thread asleep in its event loop or selector: not CPU.
IDLE_LEAVES = frozenset({"epoll_wait", "epoll_pwait", "poll", "select", "nanosleep", "clock_nanosleep"})
# Frames of a thread asleep on a lock or condition (a thread pool's idle workers).
WAITS = (
    "PyThread_acquire_lock_timed", "pthread_cond_wait", "pthread_cond_timedwait", "sem_wait", "sem_timedwait",
)  # fmt: skip
PROJECT_FOLDERS = ("bus/", "kit/", "services/", "gateway/", "simulated_world/", "tools/", "<string>")
# Python packages by the folder their frames show, and the group each is reported under.
PACKAGES = {
    "redis": "redis",
    "hiredis": "redis",
    "uvicorn": "uvicorn and httptools",
    "httptools": "uvicorn and httptools",
    "starlette": "starlette",
    "anyio": "starlette",
    "aiohttp": "aiohttp",
    "yarl": "aiohttp",
    "multidict": "aiohttp",
    "sqlalchemy": "sqlalchemy",
    "prometheus_client": "prometheus_client",
    "opentelemetry": "opentelemetry",
    "tenacity": "tenacity",
    "cachetools": "cachetools",
    "jwt": "pyjwt",
}
INTERPRETER = "CPython, asyncio and the standard library"


def _split(frame: str) -> tuple[str, str]:
    """`name (where)` as py-spy writes a frame: the function and its file (with line) or library."""
    name, _, where = frame.rpartition(" (")
    return name, where.rstrip(")")


def library(frame: str) -> str | None:
    """The group a frame belongs to; None for a frame that names none (libc, an unresolved address)."""
    name, where = _split(frame)
    top = where.split("/", 1)[0]
    if "cygrpc" in where or top == "grpc":
        return "gRPC"
    if "loop.c" in where or "uvloop" in where or name.startswith(("uv_", "uv__")):
        return "uvloop"
    if "_message.abi3" in where or "protobuf" in where:
        return "protobuf"
    if "sqlite" in where.lower():
        return "SQLite"
    if where.startswith(PROJECT_FOLDERS):
        return "project code"
    if top in PACKAGES:
        return PACKAGES[top]
    if "llhttp" in where:
        return "uvicorn and httptools"
    if "libpython" in where or where.startswith("<frozen") or where.endswith((".c", ".h")):
        return INTERPRETER
    if ".py:" in where:
        return INTERPRETER  # a standard library module: a site package names its folder above
    return None


def is_idle(frames: Sequence[str]) -> bool:
    """Whether the sample is a thread waiting, not working."""
    if _split(frames[-1])[0] in IDLE_LEAVES:
        return True
    return any(wait in frame for frame in frames[-4:] for wait in WAITS)


def by_library(stacks: Iterable[tuple[Sequence[str], int]]) -> tuple[collections.Counter[str], int]:
    """Busy samples per library, and how many samples were idle (left out)."""
    counts: collections.Counter[str] = collections.Counter()
    idle = 0
    for frames, samples in stacks:
        if not frames or is_idle(frames):
            idle += samples
            continue
        found = next((group for frame in reversed(frames) if (group := library(frame))), None)
        counts[found or "unresolved"] += samples
    return counts, idle
