"""`python -m tools.load`: simulated customers under chaos and process kills, judged on records."""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from rich.console import Console
from rich.live import Live
from rich.table import Table

from tools.audit import Auditor, Owner
from tools.cost import (
    AtRest,
    CostTable,
    at_rest,
    at_rest_markdown,
    cost_markdown,
    cost_table,
    usage_between,
)
from tools.cost_probe import CostProbe
from tools.customer import CustomerOptions, GaveUp, SimulatedCustomer, customers_of
from tools.http_calls import CallLog, TimedHttp, http_session
from tools.invariants import TERMINAL
from tools.killer import Kill, ProcessKiller
from tools.options import LoadOptions, parse_options
from tools.report import AuditedSession, LoadReport, build_report
from tools.supervised_system import SupervisedSystem, SystemSettings

# Calls that belong to signing up, not to booking: argon2 is slow on purpose.
SIGN_UP_CALLS = {"register", "login"}
DISPLAY_SECONDS = 1.0


@dataclass
class Progress:
    started: int = 0
    finished: int = 0
    not_opened: int = 0
    phase: str = "starting"
    kills: list[Kill] = field(default_factory=list)


@dataclass
class LoadResult:
    report: LoadReport
    sessions: list[AuditedSession]
    kills: list[Kill]
    signed_up: int
    cost: CostTable | None = None
    rest: AtRest | None = None


class BookingBudget:
    """How many more trips may start, and when: bounded by count and by time, paced by a rate."""

    def __init__(
        self,
        bookings: int,
        duration_seconds: float,
        rate: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._left = bookings if bookings > 0 else None
        self._clock = clock
        self._begin = clock()
        self._deadline = self._begin + duration_seconds
        self._rate = rate
        self._slots = 0

    def next_start(self) -> float | None:
        """Seconds to wait before the next trip starts, or None when no more may start."""
        now = self._clock()
        slot = self._begin + self._slots / self._rate if self._rate > 0 else now
        if max(now, slot) >= self._deadline or (self._left is not None and self._left <= 0):
            return None
        if self._left is not None:
            self._left -= 1
        self._slots += 1
        return max(slot - now, 0.0)


async def _put_with_retries(client: aiohttp.ClientSession, url: str, body: Mapping[str, object]) -> None:
    for _ in range(50):
        try:
            async with client.put(url, json=body) as response:
                await response.read()
                if response.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"PUT {url} kept failing")


async def set_chaos(
    client: aiohttp.ClientSession, system: SupervisedSystem, body: Mapping[str, object]
) -> None:
    for kind in ("hotel", "flight", "payment"):
        await _put_with_retries(client, f"{system.topology.provider_url(kind)}/admin/chaos", body)


async def _customer_loop(customer: SimulatedCustomer, budget: BookingBudget, progress: Progress) -> None:
    while (wait := budget.next_start()) is not None:
        if wait > 0:
            await asyncio.sleep(wait)
        progress.started += 1
        if await customer.book() is None:
            progress.not_opened += 1
        progress.finished += 1


async def _settle(
    auditor: Auditor, owners: Sequence[Owner], bound_seconds: float, progress: Progress
) -> None:
    """Wait until every session the arbiter knows is terminal, or the bound passes (then they are stuck)."""
    deadline = time.monotonic() + bound_seconds
    while time.monotonic() < deadline:
        states = await auditor.states(owners)
        waiting = sum(1 for _, state in states.values() if state not in TERMINAL)
        progress.phase = f"settling: {waiting} of {len(states)} sessions not terminal yet"
        if waiting == 0:
            return
        await asyncio.sleep(1.0)


async def _at_rest(
    probe: CostProbe, system: SupervisedSystem, options: LoadOptions, progress: Progress
) -> AtRest:
    """The system's CPU over a window with no traffic, starting `at_rest_after` seconds after it was up."""
    ready_at = system.ready_at if system.ready_at is not None else time.monotonic()
    settle = ready_at + options.at_rest_after_seconds - time.monotonic()
    if settle > 0:
        progress.phase = f"at rest: waiting {settle:.0f}s for the system to settle"
        await asyncio.sleep(settle)
    progress.phase = f"at rest: measuring CPU over {options.at_rest_seconds:.0f}s"
    before = await asyncio.to_thread(probe.read)
    await asyncio.sleep(options.at_rest_seconds)
    after = await asyncio.to_thread(probe.read)
    return at_rest(usage_between(before, after), after.at - before.at)


async def run_load(
    options: LoadOptions,
    system: SupervisedSystem,
    progress: Progress | None = None,
    probe: CostProbe | None = None,
) -> LoadResult:
    """Book through the system; with a probe, also what the bookings cost (and the system at rest)."""
    progress = progress or Progress()
    rest = None
    if probe is not None and options.at_rest_seconds > 0:
        rest = await _at_rest(probe, system, options, progress)
    rng = random.Random(options.seed)
    calls = CallLog()
    # A customer has one call or its session's event stream open at a time, on a pooled connection.
    async with http_session(connections=options.customers * 4 + 32) as client:
        http = TimedHttp(client, calls)
        topology = system.topology
        customer_options = CustomerOptions(
            decline_rate=options.decline_rate,
            hosted_form_share=options.hosted_form_share,
            terminal_timeout=options.stuck_after_seconds,
        )
        customers = customers_of(http, topology, rng, customer_options, options.customers)
        progress.phase = f"signing up {len(customers)} customers"
        signed = await asyncio.gather(*(c.sign_up() for c in customers), return_exceptions=True)
        failures = [s for s in signed if isinstance(s, BaseException)]
        if failures and not isinstance(failures[0], GaveUp):
            raise failures[0]
        customers = [c for c in customers if c.token]
        if not customers:
            raise RuntimeError(f"no customer could sign up: {failures[:3]}")
        await set_chaos(client, system, options.chaos.as_body())

        progress.phase = "booking"
        before = await asyncio.to_thread(probe.read) if probe is not None else None
        budget = BookingBudget(options.bookings, options.duration_seconds, options.rate)
        stop_killing = asyncio.Event()
        killer = ProcessKiller(system, options.killer, rng) if options.killer.enabled else None
        progress.kills = killer.kills if killer else []
        killing = asyncio.create_task(killer.run(stop_killing)) if killer else None
        await asyncio.gather(*(_customer_loop(c, budget, progress) for c in customers))
        stop_killing.set()
        if killing is not None:
            await killing

        auditor = Auditor(
            http,
            topology.gateway_url,
            topology.provider_url("hotel"),
            topology.provider_url("flight"),
            topology.provider_url("payment"),
        )
        owners = [Owner(c.token) for c in customers]
        await _settle(auditor, owners, options.stuck_after_seconds, progress)
        after = await asyncio.to_thread(probe.read) if probe is not None else None
        progress.phase = "auditing every session at the providers"
        known = await auditor.states(owners)
        audited = await auditor.audit_settled(
            {sid: owner for sid, (owner, _) in known.items()}, options.settle_seconds
        )
    booking_calls = {name: values for name, values in calls.latencies_ms.items() if name not in SIGN_UP_CALLS}
    booking_calls.pop("audit read", None)
    report = build_report(audited, booking_calls, calls.failures)
    cost = None
    if before is not None and after is not None:
        cost = cost_table(usage_between(before, after), report.confirmed, after.at - before.at)
    return LoadResult(report, audited, list(progress.kills), len(customers), cost, rest)


# -- presentation ---------------------------------------------------------------------------------


def _progress_view(progress: Progress, started: float) -> Table:
    table = Table.grid(padding=(0, 2))
    kills = ", ".join(k.name for k in progress.kills[-6:]) or "none"
    table.add_row(
        f"[bold]{time.monotonic() - started:6.1f}s[/]",
        progress.phase,
        f"trips started {progress.started}, finished {progress.finished}",
        f"kills: {len(progress.kills)} ({kills})",
    )
    return table


def print_report(console: Console, result: LoadResult, options: LoadOptions) -> None:
    report = result.report
    console.rule("[bold]load report (counted from the sessions' and providers' records)")
    console.print(
        f"customers {result.signed_up}, replicas {options.replicas}, "
        f"{'PostgreSQL' if options.database_url else 'SQLite'}, chaos {options.chaos.as_body()}"
    )
    console.print(
        f"sessions {report.bookings}; confirmed {report.confirmed} over {report.window_seconds:.1f}s "
        f"= [bold]{report.rate:.2f} confirmed bookings/s[/]"
    )
    outcomes = Table(title="outcomes by reason")
    for column in ("state", "reason", "sessions"):
        outcomes.add_column(column)
    for (state, reason), count in sorted(report.outcomes.items()):
        outcomes.add_row(state, reason, str(count))
    console.print(outcomes)
    latency = Table(title="latency (ms)")
    for column in ("what", "count", "p50", "p95", "p99", "max", "failed answers"):
        latency.add_column(column, justify="right" if column != "what" else "left")
    if report.webhook_to_terminal:
        w = report.webhook_to_terminal
        latency.add_row(
            "payment recorded -> terminal state",
            str(w.count),
            f"{w.p50_ms:.0f}",
            f"{w.p95_ms:.0f}",
            f"{w.p99_ms:.0f}",
            f"{w.max_ms:.0f}",
            "",
        )
    for name, s in report.calls.items():
        failed = report.call_failures.get(name)
        detail = ", ".join(f"{k} x{v}" for k, v in sorted(failed.items())) if failed else ""
        latency.add_row(
            name,
            str(s.count),
            f"{s.p50_ms:.0f}",
            f"{s.p95_ms:.0f}",
            f"{s.p99_ms:.0f}",
            f"{s.max_ms:.0f}",
            detail,
        )
    console.print(latency)
    if result.kills:
        console.print(
            "kills: "
            + ", ".join(f"{k.name}@{k.at_seconds:.0f}s (back in {k.down_seconds:.1f}s)" for k in result.kills)
        )
    console.rule("[bold]invariant report")
    if report.violations:
        for violation in report.violations:
            console.print(f"[red]VIOLATION[/] {violation}")
    else:
        console.print(
            f"[green]no violation[/] across {report.bookings} sessions "
            "(holds, payments, refunds, repeated saga steps)"
        )
    if report.leaked_holds:
        console.print(
            f"{sum(len(h) for h in report.leaked_holds.values())} of those are holds still HELD that their "
            f"session never attached (a pre-reserve left unreleased), in {len(report.leaked_holds)} sessions"
        )
    if report.stuck:
        for stuck in report.stuck:
            console.print(f"[red]STUCK[/] {stuck}")
    else:
        console.print(f"[green]no stuck session[/] (bound {options.stuck_after_seconds:.0f}s)")
    print_cost(console, result)


def print_cost(console: Console, result: LoadResult) -> None:
    if result.rest is not None:
        console.rule(f"[bold]the system at rest (CPU over {result.rest.seconds:.0f}s, no traffic)")
        for line in at_rest_markdown(result.rest):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if result.cost is not None:
        cost = result.cost
        console.rule(
            f"[bold]cost per confirmed booking ({cost.bookings} confirmed in a {cost.seconds:.0f}s window; "
            "CPU from /proc, calls from each process's /metrics)"
        )
        for line in cost_markdown(cost):
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def results_json(result: LoadResult, options: LoadOptions) -> dict[str, Any]:
    """The run's figures for other tools (`make bench`): the summary, the cost and the system at rest."""
    report, cost, rest = result.report, result.cost, result.rest
    latency = report.webhook_to_terminal
    busiest = cost.busiest if cost is not None else None
    return {
        "customers": result.signed_up,
        "replicas": options.replicas,
        "database": "PostgreSQL" if options.database_url else "SQLite",
        "paced_rate": options.rate,
        "bookings": report.bookings,
        "confirmed": report.confirmed,
        "rate": report.rate,
        "violations": len(report.violations),
        "stuck": len(report.stuck),
        "payment_to_terminal_p50_ms": latency.p50_ms if latency else None,
        "payment_to_terminal_p99_ms": latency.p99_ms if latency else None,
        "cost": None
        if cost is None
        else {
            "seconds": cost.seconds,
            "every_cpu_ms": _finite(cost.every.cpu_ms),
            "product_cpu_ms": _finite(cost.product.cpu_ms),
            "every_calls": {kind: _finite(value) for kind, value in cost.every.calls.items()},
            "machine_core_share": _finite(cost.every.core_share),
            "busiest": busiest.name if busiest else None,
            "busiest_core_share": _finite(busiest.core_share) if busiest else None,
            "markdown": cost_markdown(cost),
        },
        "at_rest": None
        if rest is None
        else {"seconds": rest.seconds, "core_share": rest.total, "markdown": at_rest_markdown(rest)},
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    console = Console(stderr=False)
    settings = SystemSettings(
        replicas=options.replicas,
        redis_url=options.redis_url,
        own_redis=options.own_redis,
        database_url=options.database_url,
        default_ports=options.default_ports,
        keep_data=options.keep_data,
        env=options.system_env(),
    )
    progress = Progress()
    result: LoadResult | None = None
    try:
        with SupervisedSystem(settings, log=console.print) as system:
            started = time.monotonic()
            probe = CostProbe(system)
            # Redrawn by the loop once a second, not by rich's own thread four times a second: the
            # driver's CPU counts in every cost table, and the redraws were a fifth of it.
            with Live(_progress_view(progress, started), console=console, auto_refresh=False) as live:
                task = run_load(options, system, progress, probe)

                async def with_display() -> LoadResult:
                    running = asyncio.ensure_future(task)
                    while not running.done():
                        live.update(_progress_view(progress, started), refresh=True)
                        await asyncio.wait([running], timeout=DISPLAY_SECONDS)
                    return running.result()

                try:
                    result = uvloop.run(with_display())
                finally:
                    probe.close()
            if options.keep_data:
                console.print(f"logs kept in {system.log_dir}")
        print_report(console, result, options)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted")
    except Exception as error:  # the summary line must still close the output
        console.print(f"[red]load run failed:[/] {type(error).__name__}: {error}")
    if result is None:
        out("bookings=0 confirmed=0 cancelled=0 expired=0 violations=0 stuck=0 rate=0.00/s p99_ms=0")
        return 2
    if options.results_json:
        Path(options.results_json).write_text(json.dumps(results_json(result, options), indent=2))
    out(result.report.summary_line())
    return 1 if result.report.violations or result.report.stuck else 0


if __name__ == "__main__":
    sys.exit(main())
