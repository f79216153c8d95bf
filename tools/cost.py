"""What a confirmed booking costs, per process: CPU from the OS and the calls each counted. Pure.

Two readings of every process (CPU seconds, call counters) bound a window; the difference divided by
the bookings confirmed in it is the cost table. The same readings with no traffic give the system's
share of a core at rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tools.call_counts import KINDS, CallCounts, counts_between, totals

# The product's processes (with PostgreSQL's when it is the database); the simulated providers
# and the load driver are not.
PRODUCT_ROLES = frozenset(
    {"gateway", "customers", "sessions", "hotel", "flights", "payments", "expiry", "redis", "postgresql"}
)
# What runs only to run the others: shown, never in a total (a deployment has its own supervisor).
HARNESS_ROLES = frozenset({"supervisord"})
# What drives the traffic: part of every booking's cost, but not of the system at rest.
DRIVER_ROLE = "driver"
COLUMNS: Mapping[str, str] = {
    "grpc": "gRPC served",
    "http": "HTTP served",
    "provider": "provider calls",
    "db": "DB transactions",
    "redis": "Redis round trips",
    "hops": "bus hops",
}


@dataclass(frozen=True)
class ProcessReading:
    """One process at one moment: its pid, CPU seconds so far and counters so far."""

    name: str
    role: str
    pid: int | None
    cpu_seconds: float | None
    counts: CallCounts = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """Every process at one moment (`at`: monotonic seconds)."""

    at: float
    processes: Mapping[str, ProcessReading]


@dataclass(frozen=True)
class ProcessUsage:
    """What one process used between two readings."""

    name: str
    role: str
    cpu_seconds: float
    calls: Mapping[str, float]
    restarted: bool = False


def usage_between(before: Reading, after: Reading) -> list[ProcessUsage]:
    """Each process's CPU and calls over the window; a process restarted inside it (a new pid)
    counts only from its restart, and is marked, since its first life's share is lost."""
    used: list[ProcessUsage] = []
    for name, later in after.processes.items():
        if later.cpu_seconds is None:
            continue  # gone at the end of the window: nothing to read
        earlier = before.processes.get(name)
        if earlier is None or earlier.pid != later.pid or earlier.cpu_seconds is None:
            # Born or restarted inside the window: everything it used so far is in it.
            counted = counts_between({}, later.counts)
            used.append(ProcessUsage(name, later.role, later.cpu_seconds, totals(counted), True))
            continue
        counted = counts_between(earlier.counts, later.counts)
        cpu = max(later.cpu_seconds - earlier.cpu_seconds, 0.0)
        used.append(ProcessUsage(name, later.role, cpu, totals(counted)))
    return used


@dataclass(frozen=True)
class CostRow:
    """Per confirmed booking: CPU milliseconds and calls; `core_share`: CPU / wall time of the window."""

    name: str
    cpu_ms: float
    calls: Mapping[str, float]
    core_share: float
    restarted: bool = False


@dataclass(frozen=True)
class CostTable:
    bookings: int
    seconds: float
    rows: Sequence[CostRow]
    every: CostRow
    product: CostRow
    harness: frozenset[str] = frozenset()

    @property
    def busiest(self) -> CostRow | None:
        return max(self.rows, key=lambda row: row.core_share, default=None)


def _per(value: float, bookings: int) -> float:
    return value / bookings if bookings > 0 else math.nan


def _row(name: str, usages: Sequence[ProcessUsage], bookings: int, seconds: float) -> CostRow:
    cpu = sum(u.cpu_seconds for u in usages)
    calls = {kind: _per(sum(u.calls.get(kind, 0.0) for u in usages), bookings) for kind in KINDS}
    return CostRow(
        name=name,
        cpu_ms=_per(cpu * 1000, bookings),
        calls=calls,
        core_share=cpu / seconds if seconds > 0 else math.nan,
        restarted=any(u.restarted for u in usages),
    )


def cost_table(usages: Sequence[ProcessUsage], bookings: int, seconds: float) -> CostTable:
    """Rows by CPU per booking, most expensive first, and the totals: every process, the product's."""
    rows = sorted(
        (_row(u.name, [u], bookings, seconds) for u in usages), key=lambda r: r.cpu_ms, reverse=True
    )
    product = [u for u in usages if u.role in PRODUCT_ROLES]
    every = [u for u in usages if u.role not in HARNESS_ROLES]
    return CostTable(
        bookings=bookings,
        seconds=seconds,
        rows=rows,
        every=_row("every process", every, bookings, seconds),
        product=_row("product only", product, bookings, seconds),
        harness=frozenset(u.name for u in usages if u.role in HARNESS_ROLES),
    )


def _number(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def cost_markdown(table: CostTable) -> list[str]:
    """The table as Markdown lines: per confirmed booking, and each process's share of a core."""
    head = ["process", "CPU ms", "% of a core", *COLUMNS.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in [*table.rows, table.every, table.product]:
        bold = row in (table.every, table.product)
        name = f"**{row.name}**" if bold else row.name + (" (restarted)" if row.restarted else "")
        name += " (not in totals)" if row.name in table.harness else ""
        cells = [name, _number(row.cpu_ms, 2), _number(row.core_share * 100, 0)]
        cells += ["" if not row.calls.get(kind) else _number(row.calls[kind], 1) for kind in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


@dataclass(frozen=True)
class AtRest:
    """Each process's share of one core with no traffic; the whole system leaves out the harness."""

    seconds: float
    shares: Mapping[str, float]
    harness: frozenset[str] = frozenset()

    @property
    def total(self) -> float:
        return sum(share for name, share in self.shares.items() if name not in self.harness)


def at_rest(usages: Sequence[ProcessUsage], seconds: float) -> AtRest:
    """The system's processes over a window with no traffic (the idle load driver is not one)."""
    system = [u for u in usages if u.role != DRIVER_ROLE]
    shares = {u.name: u.cpu_seconds / seconds for u in system} if seconds > 0 else {}
    ordered = dict(sorted(shares.items(), key=lambda item: item[1], reverse=True))
    return AtRest(seconds, ordered, frozenset(u.name for u in system if u.role in HARNESS_ROLES))


def at_rest_markdown(rest: AtRest) -> list[str]:
    lines = ["| process | % of one core |", "|---|---|"]
    for name, share in rest.shares.items():
        lines.append(f"| {name}{' (not in the total)' if name in rest.harness else ''} | {share * 100:.3f} |")
    lines.append(f"| **whole system** | **{rest.total * 100:.3f}** |")
    return lines
