"""`make bench`: every benchmark in one run, and their figures as a table in the README.

It runs the bus benchmark, the gateway overhead benchmark and end-to-end load at 0% chaos with
one and two replicas (two need PostgreSQL), reads each one's printed figures, and rewrites the
README's table between its markers with the date and the commands.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Figure:
    what: str
    value: str
    target: str
    command: str


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    print(f"$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    print(result.stdout[-4000:], flush=True)
    if result.returncode not in (0, 1):
        print(result.stderr[-2000:], file=sys.stderr)
    return result.stdout


def find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else "n/a"


def bus_figures() -> list[Figure]:
    out = run([sys.executable, "-m", "bus.bench"])
    command = "make bench-bus"
    return [
        Figure(
            "bus hops/s (all guarantees) / raw redis-py loop",
            find(r"ratio bus / raw\s*:\s*([\d.]+)", out),
            ">= 0.5",
            command,
        ),
        Figure("bus hops/s, all guarantees on", find(r"bus, all guarantees on :\s*(\d+)", out), "", command),
        Figure("raw redis-py hops/s", find(r"raw redis-py loop\s*:\s*(\d+)", out), "", command),
        Figure("bus hop latency p99 at 1,000 hops/s", find(r"p99 ([\d.]+ ms)", out), "< 5 ms", command),
    ]


def gateway_figures() -> list[Figure]:
    out = run([sys.executable, "-m", "gateway.bench"])
    command = "python -m gateway.bench"
    raw = re.search(r"REST \(raw\): throughput gRPC/REST ([\d.]+)x, p99 REST/gRPC ([\d.]+)x", out)
    return [
        Figure(
            "gateway cost: direct gRPC / REST throughput",
            raw.group(1) + "x" if raw else "n/a",
            "<= 2x",
            command,
        ),
        Figure(
            "gateway cost: REST / direct gRPC p99", raw.group(2) + "x" if raw else "n/a", "<= 2x", command
        ),
    ]


def load_figures(replicas: int, database_url: str | None, customers: int, duration: int) -> list[Figure]:
    command = [
        sys.executable, "-m", "operations.load", "--customers", str(customers),
        "--duration", str(duration), "--decline-rate", "0", "--replicas", str(replicas),
    ]  # fmt: skip
    env = dict(os.environ)
    if database_url:
        command += ["--database-url", database_url]
    out = run(command, env)
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    shown = f"make load CUSTOMERS={customers} DURATION={duration} ARGS='--decline-rate 0'" + (
        f" REPLICAS={replicas} DATABASE_URL={database_url}" if database_url else ""
    )
    violations, stuck = find(r"violations=(\d+)", summary), find(r"stuck=(\d+)", summary)
    label = f"{replicas} replica{'s' if replicas > 1 else ''}" + (
        " on PostgreSQL" if database_url else " on SQLite"
    )
    return [
        Figure(f"bookings/s at 0% chaos, {label}", find(r"rate=([\d.]+/s)", summary), ">= 100/s", shown),
        Figure(
            f"webhook to terminal p99 at 0% chaos, {label}",
            find(r"p99_ms=(\d+)", summary) + " ms",
            "< 250 ms",
            shown,
        ),
        Figure(f"violations / stuck, {label}", f"{violations} / {stuck}", "0 / 0", shown),
    ]


def table(figures: list[Figure]) -> str:
    lines = [
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores.",
        "",
        "| figure | measured | target | command |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f.what} | {f.value} | {f.target} | `{f.command}` |" for f in figures]
    return "\n".join(lines)


def write_readme(rendered: str) -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md needs the markers {BEGIN} and {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{rendered}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m operations.bench", description=__doc__)
    parser.add_argument("--customers", type=int, default=16)
    parser.add_argument("--duration", type=int, default=45)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL for the two-replica run",
    )
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args()
    figures = bus_figures() + gateway_figures()
    figures += load_figures(1, None, args.customers, args.duration)
    figures += load_figures(2, args.database_url, args.customers, args.duration)
    rendered = table(figures)
    print(rendered)
    if not args.no_readme:
        write_readme(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
