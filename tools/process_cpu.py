"""CPU time a process has used, read from /proc/<pid>/stat, as the kernel accounts it."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def cpu_seconds_of_stat(stat: str, ticks_per_second: int, reaped_children: bool = False) -> float:
    """User + system CPU seconds from the text of /proc/<pid>/stat: its own threads, and with
    `reaped_children` also the children it has waited for (which take their CPU with them).

    The command name (field 2) may hold spaces and parentheses, so fields are counted after its
    last ')': utime and stime are fields 14 and 15 of the whole line, cutime and cstime 16 and 17.
    """
    _, closing, rest = stat.rpartition(")")
    if not closing:
        raise ValueError("not a /proc/<pid>/stat line")
    fields = rest.split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / ticks_per_second


def process_cpu_seconds(pid: int, proc: Path = PROC) -> float | None:
    """The CPU seconds of a live process; None when it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return cpu_seconds_of_stat(stat, os.sysconf("SC_CLK_TCK"))


def cpu_seconds_of_command(name: str, proc: Path = PROC) -> tuple[int | None, float]:
    """Every process called `name` (a server and the workers it forks), as one: the oldest pid
    and the CPU seconds of all of them plus the workers they reaped, so a worker that ends mid-way
    still counts (through its parent)."""
    ticks = os.sysconf("SC_CLK_TCK")
    oldest: int | None = None
    total = 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit() or command_name(int(entry.name), proc) != name:
            continue
        try:
            total += cpu_seconds_of_stat((entry / "stat").read_text(), ticks, reaped_children=True)
        except (FileNotFoundError, ProcessLookupError):
            continue
        pid = int(entry.name)
        oldest = pid if oldest is None else min(oldest, pid)
    return oldest, total


def command_name(pid: int, proc: Path = PROC) -> str | None:
    """The process's command name (`comm`), to check a pid is what we think it is."""
    try:
        return (proc / str(pid) / "comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
