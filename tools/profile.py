"""`python -m tools.profile`: where a booking's CPU goes, by function, in each busy process.

Runs the load driver at 0% chaos, samples the named processes with py-spy while bookings flow,
and prints each one's functions by their own (self) samples, the slowest first; with `--native`,
C frames too, and each process's busy samples by library (tools/profile_libraries.py). What is
printed is what docs/performance.md's "What limits end-to-end throughput" summarises.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tools.profile_libraries import by_library

DEFAULT_PROCESSES = ("sessions", "hotel", "flights", "payments", "gateway", "provider-flight")
MODULES = {
    "sessions": "services.sessions",
    "hotel": "services.hotel",
    "flights": "services.flights",
    "payments": "services.payments",
    "customers": "services.customers",
    "expiry": "services.expiry",
    "gateway": "gateway",
}


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return []
    return [*raw.decode(errors="replace").split("\0"), *environ.decode(errors="replace").split("\0")]


def find_pid(process: str, started_after: float) -> int | None:
    """The newest process of that name started after `started_after` (this run's system)."""
    found: list[tuple[float, int]] = []
    ticks = os.sysconf("SC_CLK_TCK")
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        words = command_line(int(entry.name))
        if process.startswith("provider-"):
            kind = process.split("-", 1)[1]
            matches = "simulated_world.providers" in words and f"PROVIDER_KIND={kind}" in words
        else:
            matches = MODULES.get(process) in words
        if not matches:
            continue
        try:
            start = boot + int((entry / "stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        except (OSError, IndexError, ValueError):
            continue
        if start >= started_after:
            found.append((start, int(entry.name)))
    return max(found)[1] if found else None


def stacks(raw_file: Path) -> Iterator[tuple[list[str], int]]:
    """py-spy's raw (collapsed) stacks, `frame;frame;... count`: the frames, outermost first."""
    for line in raw_file.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if stack and number.isdigit():
            yield stack.split(";"), int(number)


def self_samples(raw_file: Path) -> tuple[collections.Counter[str], int]:
    """Samples per innermost frame, where time went, and the total."""
    counts: collections.Counter[str] = collections.Counter()
    for frames, samples in stacks(raw_file):
        counts[frames[-1]] += samples
    return counts, sum(counts.values())


def report(process: str, counts: collections.Counter[str], total: int, top: int) -> Iterable[str]:
    yield f"\n## {process}: {total} samples"
    for frame, count in counts.most_common(top):
        yield f"{100 * count / max(total, 1):5.1f}%  {frame}"


def library_report(process: str, raw_file: Path) -> Iterable[str]:
    counts, idle = by_library(stacks(raw_file))
    busy = sum(counts.values())
    yield f"\n## {process} by library: {busy} busy samples ({idle} idle left out)"
    for group, count in counts.most_common():
        yield f"{100 * count / max(busy, 1):5.1f}%  {group}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.profile", description=__doc__)
    parser.add_argument("--customers", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of load before sampling")
    parser.add_argument("--seconds", type=int, default=20, help="how long to sample")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--processes", nargs="*", default=list(DEFAULT_PROCESSES))
    parser.add_argument(
        "--native", action="store_true",
        help="sample C frames too (pauses each process while sampling) and group by library",
    )  # fmt: skip
    args = parser.parse_args(argv)
    started = time.time()
    duration = int(args.warmup + args.seconds + 10)
    load = subprocess.Popen(
        [sys.executable, "-m", "tools.load", "--customers", str(args.customers),
         "--duration", str(duration), "--decline-rate", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(args.warmup)  # the system starts and bookings reach a steady pace
    folder = Path(tempfile.mkdtemp(prefix="profile-"))
    samplers = {}
    for process in args.processes:
        pid = find_pid(process, started)
        if pid is None:
            print(f"{process}: not running", file=sys.stderr)
            continue
        spy = Path(sys.executable).parent / "py-spy"
        # py-spy reads C stacks only from a paused process; Python stacks it reads without pausing.
        mode = ["--native", "--rate", "50"] if args.native else ["--nonblocking"]
        samplers[process] = subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--duration", str(args.seconds), "--format", "raw",
             *mode, "--output", str(folder / f"{process}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    for sampler in samplers.values():
        sampler.wait()
    output, _ = load.communicate()
    print(output.strip().splitlines()[-1] if output.strip() else "load: no output")
    for process in samplers:
        raw = folder / f"{process}.txt"
        if raw.exists():
            counts, total = self_samples(raw)
            print("\n".join(report(process, counts, total, args.top)))
            if args.native:
                print("\n".join(library_report(process, raw)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
