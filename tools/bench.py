"""`make bench`: every figure of the performance targets in one run, and docs/performance.md's table of them.

It runs the bus, gateway and expiry benchmarks, then end-to-end load at 0% chaos: one process each
on SQLite at full speed (with the system at rest measured first, 30 s after start), again paced at
half the rate reached (for latency), and two replicas on PostgreSQL. Each load run prints its cost
table; docs/performance.md gets the figures, the commands that produced them and the first run's cost table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bus.keys import DEFAULT_PARTITIONS
from bus.settings import ConsumerSettings
from kit.settings import Env
from kit.shared_settings import DATABASE_URL
from tools.bus_bench import CLUSTER, CLUSTER_MASTERS, ONE_REDIS
from tools.counting_cost import increment_costs, per_booking_us

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE_DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
AT_REST_AFTER_SECONDS = 30
# The kernel reports CPU time in 10 ms ticks: over 60 s, each process's share is within 0.017%.
AT_REST_WINDOW_SECONDS = 60
# The services' own claim idle time: the load driver's shorter default is for runs that kill
# processes (their entries are claimed sooner), and a bench run kills none. It also sets how often
# each partition's loop sweeps for claims, which the system at rest pays for.
CLAIM_IDLE_MS = ConsumerSettings().claim_idle_ms


@dataclass(frozen=True)
class Figure:
    what: str
    value: str
    target: str
    command: str


def run(command: list[str]) -> str:
    print(f"$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    print(result.stdout[-6000:], flush=True)
    if result.returncode not in (0, 1):
        print(result.stderr[-2000:], file=sys.stderr)
    return result.stdout


def find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else "n/a"


def bus_figures() -> list[Figure]:
    return bus_figures_of(run([sys.executable, "-m", "tools.bus_bench"]))


def bus_figures_of(out: str) -> list[Figure]:
    """The bus rows of the table, read from what `make bench-bus` printed."""
    command = "make bench-bus"
    return [
        Figure(
            "bus hops/s (all guarantees) / raw redis-py loop, same batch",
            find(r"ratio bus / raw\s*:\s*([\d.]+)", out),
            ">= 0.5",
            command,
        ),
        Figure("bus hops/s, all guarantees on", find(r"bus, all guarantees on :\s*(\d+)", out), "", command),
        Figure("raw redis-py hops/s", find(r"raw redis-py loop\s*:\s*(\d+)", out), "", command),
        Figure(
            f"bus hop latency p99 at 1,000 hops/s, P={DEFAULT_PARTITIONS}",
            find(r"hop latency @ .*?p99 ([\d.]+ ms)", out),
            "< 5 ms",
            command,
        ),
        Figure(
            "bus hop latency p99 at 1,000 hops/s, P=1 (same run)",
            find(r"hop latency, P=1\s*:.*?p99 ([\d.]+ ms)", out),
            "reported",
            command,
        ),
        Figure(
            f"bus hops/s, P={DEFAULT_PARTITIONS} on one Redis (x against P=1 on one Redis, same run)",
            partitioned(ONE_REDIS, out),
            "reported",
            command,
        ),
        Figure(
            f"bus hops/s, P={DEFAULT_PARTITIONS} on a {CLUSTER_MASTERS}-master Redis Cluster on the same "
            "machine (x against P=1 on one Redis, same run)",
            partitioned(CLUSTER, out),
            "reported",
            command,
        ),
    ]


def partitioned(where: str, out: str) -> str:
    """A `bus P=8, <where>` row of the bus benchmark as `hops/s (xratio)`."""
    row = re.search(rf"bus P={DEFAULT_PARTITIONS}, {re.escape(where)}\s*:\s*(\d+) hops/s, x([\d.]+)", out)
    return f"{row.group(1)} (x{row.group(2)})" if row else "n/a"


def gateway_figures() -> list[Figure]:
    out = run([sys.executable, "-m", "tools.gateway_bench"])
    command = "python -m tools.gateway_bench"
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


def expiry_figures() -> list[Figure]:
    out = run([sys.executable, "-m", "tools.expiry_bench"])
    command = "make bench-expiry"
    arbiter = re.search(r"through the arbiter\s*:\s*([\d,]+) expirations/s.*?p99 (\d+) ms", out)
    return [
        Figure(
            "expirations/s through the arbiter, 100k pending",
            arbiter.group(1) + "/s" if arbiter else "n/a",
            ">= 2,000/s",
            command,
        ),
        Figure(
            "expiry lateness p99, 100k pending",
            arbiter.group(2) + " ms" if arbiter else "n/a",
            "< 1,000 ms",
            command,
        ),
    ]


@dataclass(frozen=True)
class LoadRun:
    """One `tools.load` run: how to say it with make, and the figures it wrote (None if it failed)."""

    label: str
    shown: str
    results: dict[str, Any] | None

    def get(self, *path: str) -> Any:
        value: Any = self.results
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value


def load_run(
    label: str,
    customers: int,
    duration: int,
    *,
    replicas: int = 1,
    database_url: str | None = None,
    rate: float = 0.0,
    at_rest: bool = False,
) -> LoadRun:
    # Its own Redis, so Redis's CPU is this system's alone (PostgreSQL's is the machine's server's).
    flags = ["--decline-rate", "0", "--own-redis", "--claim-idle-ms", str(CLAIM_IDLE_MS)]
    if rate > 0:
        flags += ["--rate", f"{rate:.2f}"]
    if at_rest:
        flags += ["--at-rest", str(AT_REST_WINDOW_SECONDS), "--at-rest-after", str(AT_REST_AFTER_SECONDS)]
    command = [
        sys.executable, "-m", "tools.load", "--customers", str(customers),
        "--duration", str(duration), "--replicas", str(replicas), *flags,
    ]  # fmt: skip
    if database_url:
        command += ["--database-url", database_url]
    shown = f"make load CUSTOMERS={customers} DURATION={duration} ARGS='{' '.join(flags)}'"
    if database_url:
        shown += f" REPLICAS={replicas} DATABASE_URL={database_url}"
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        path = Path(folder) / "results.json"
        run([*command, "--results-json", str(path)])
        results = json.loads(path.read_text()) if path.exists() else None
    return LoadRun(label, shown, results)


def _ms(value: Any, digits: int = 1) -> str:
    return f"{value:,.{digits}f} ms" if isinstance(value, int | float) else "n/a"


def _rate(value: Any) -> str:
    return f"{value:.1f}/s" if isinstance(value, int | float) else "n/a"


def full_speed_figures(run: LoadRun) -> list[Figure]:
    share = run.get("at_rest", "core_share")
    return [
        Figure(
            f"confirmed bookings/s at 0% chaos, {run.label}",
            _rate(run.get("rate")),
            ">= 50/s (then 100/s)",
            run.shown,
        ),
        Figure(
            "CPU per confirmed booking, every process (providers and load driver included)",
            _ms(run.get("cost", "every_cpu_ms")),
            "<= 40 ms (then 20 ms)",
            run.shown,
        ),
        Figure(
            "CPU per confirmed booking, the product's processes only (gateway, customers, sessions, hotel, "
            "flights, payments, expiry, Redis)",
            _ms(run.get("cost", "product_cpu_ms")),
            "<= 25 ms (then 8 ms)",
            run.shown,
        ),
        calls_figure(run),
        Figure(
            f"the whole system at rest, {AT_REST_AFTER_SECONDS} s after start, no traffic "
            f"(CPU over {AT_REST_WINDOW_SECONDS} s)",
            f"{share * 100:.2f}% of one core" if isinstance(share, int | float) else "n/a",
            "< 1% of one core",
            run.shown,
        ),
    ]


# What a confirmed booking may cost in calls, by the cost table's kind of call.
CALL_TARGETS = (
    ("grpc", "gRPC calls", 12),
    ("hops", "bus hops", 3),
    ("provider", "provider calls", 9),
    ("redis", "Redis round trips", 20),
)


def calls_figure(run: LoadRun) -> Figure:
    """The calls every process counted per confirmed booking, against what a booking may make."""
    calls = run.get("cost", "every_calls") or {}
    measured = " / ".join(
        f"{calls[kind]:.1f}" if isinstance(calls.get(kind), int | float) else "n/a"
        for kind, _, _ in CALL_TARGETS
    )
    return Figure(
        "calls per confirmed booking: " + " / ".join(name for _, name, _ in CALL_TARGETS),
        measured,
        " / ".join(f"<= {most}" for _, _, most in CALL_TARGETS),
        run.shown,
    )


def half_rate_figures(run: LoadRun, paced: float) -> list[Figure]:
    return [
        Figure(
            f"payment to terminal state p99, paced at half the maximum ({paced:.1f}/s started, "
            f"{_rate(run.get('rate'))} confirmed)",
            _ms(run.get("payment_to_terminal_p99_ms"), 0),
            "<= 100 ms",
            run.shown,
        ),
        Figure(
            "payment to terminal state p50, same run",
            _ms(run.get("payment_to_terminal_p50_ms"), 0),
            "reported",
            run.shown,
        ),
    ]


def replicas_figures(run: LoadRun, single: LoadRun) -> list[Figure]:
    busiest, share = run.get("cost", "busiest"), run.get("cost", "busiest_core_share")
    machine = run.get("cost", "machine_core_share")
    limit = "n/a"
    cores = os.cpu_count() or 1
    if isinstance(share, int | float) and isinstance(machine, int | float):
        bound = (
            "the machine's CPU is used up"
            if machine >= 0.9 * cores
            else "CPU is to spare: the rate is bound by each booking's latency and the customers' number"
        )
        limit = (
            f"busiest process {busiest} at {share * 100:.0f}% of a core; all processes at "
            f"{machine * 100:.0f}% of a core, on {cores} cores: {bound}"
        )
    return [
        Figure(
            f"confirmed bookings/s at 0% chaos, {run.label}",
            _rate(run.get("rate")),
            f"reported beside {single.label}: {_rate(single.get('rate'))}",
            run.shown,
        ),
        Figure(f"what limits {run.label}", limit, "reported", run.shown),
        Figure(
            f"CPU per confirmed booking, every process / product only, {run.label}",
            f"{_ms(run.get('cost', 'every_cpu_ms'))} / {_ms(run.get('cost', 'product_cpu_ms'))}",
            "reported",
            run.shown,
        ),
    ]


def soundness_figure(runs: Sequence[LoadRun]) -> Figure:
    parts = [f"{run.get('violations')} / {run.get('stuck')}" for run in runs]
    return Figure(
        "violations / stuck sessions, each load run above", ", ".join(parts), "0 / 0", "the runs above"
    )


def counting_figure(run: LoadRun) -> Figure:
    """What counting the calls costs per booking, against the product's CPU per booking."""
    calls = run.get("cost", "every_calls") or {}
    costs = increment_costs()
    spent = per_booking_us(costs, {kind: value for kind, value in calls.items() if value is not None})
    product = run.get("cost", "product_cpu_ms")
    share = f" = {spent / 10 / product:.2f}% of the product's CPU" if isinstance(product, int | float) else ""
    each = ", ".join(f"{kind} {cost:.0f} ns" for kind, cost in costs.items())
    return Figure(
        "counting every call (prometheus_client counters), CPU per booking",
        f"{spent:.0f} µs{share} (per increment: {each})",
        "no measurable cost",
        "python -m tools.counting_cost",
    )


def table(figures: list[Figure], cost: LoadRun, minutes: float) -> str:
    lines = [
        f"Measured by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"in {minutes:.0f} minutes.",
        "",
        "| figure | measured | target | command |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f.what} | {f.value} | {f.target} | `{f.command}` |" for f in figures]
    markdown = cost.get("cost", "markdown")
    if markdown:
        lines += [
            "",
            f"Cost per confirmed booking, {cost.label} at full speed (`{cost.shown}`): CPU milliseconds "
            "read from /proc, each process's share of a core over the window, and the calls each process "
            "counted (served, or made to a provider, to its database, to Redis), per booking.",
            "",
            *markdown,
        ]
    rest = cost.get("at_rest", "markdown")
    if rest:
        lines += ["", "The system at rest, per process (same run, before any traffic):", "", *rest]
    return "\n".join(lines)


def write_table(rendered: str, document: Path = PERFORMANCE_DOC) -> None:
    """Replace what `document` holds between its bench markers with `rendered`."""
    text = document.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{document} needs the markers {BEGIN} and {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    document.write_text(f"{head}{BEGIN}\n{rendered}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--customers", type=int, default=16)
    parser.add_argument("--duration", type=int, default=45)
    parser.add_argument(
        "--database-url",
        default=DATABASE_URL.optional(Env()) or "postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL for the two-replica run",
    )
    parser.add_argument(
        "--print-only",
        "--no-readme",
        action="store_true",
        help="print the table, leave docs/performance.md as it is",
    )
    args = parser.parse_args()
    began = time.monotonic()
    figures = bus_figures() + gateway_figures() + expiry_figures()
    single = load_run("1 process each on SQLite", args.customers, args.duration, at_rest=True)
    figures += full_speed_figures(single)
    runs = [single]
    maximum = single.get("rate")
    if isinstance(maximum, int | float) and maximum > 0:
        half = load_run(
            "1 process each on SQLite, half rate", args.customers, args.duration, rate=maximum / 2
        )
        figures += half_rate_figures(half, maximum / 2)
        runs.append(half)
    replicas = load_run(
        "2 replicas on PostgreSQL", args.customers, args.duration, replicas=2, database_url=args.database_url
    )
    figures += replicas_figures(replicas, single)
    runs.append(replicas)
    figures += [soundness_figure(runs), counting_figure(single)]
    rendered = table(figures, single, (time.monotonic() - began) / 60)
    print(rendered)
    if not args.print_only:
        write_table(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
