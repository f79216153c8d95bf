"""`python -m tools.step_cost`: what each step of a booking costs, by process, one step at a time.

The load driver's cost table says what a whole booking costs; this says which step it goes to.
It starts the system as `make load` does (its own Redis, SQLite, every process), opens a batch of
sessions, then runs one step over the whole batch at a time, 16 customers at once: open, search
hotels, hold a hotel, search flights, hold the round trip, check out, pay (with the webhook and
the confirmation saga it starts), follow the session's event stream to its end. Each step's CPU
per session is read from /proc around it, every process apart. After paying, the window closes
once every process's CPU has stood still for a second (the sagas are done), so no read of the
sessions adds to the figure. Figures are per session; at 0% chaos every session is confirmed.

Run in steps, a booking is not quite the booking of `make load`: the event stream opens on a
session already confirmed, so it carries one read and no notices.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import uvloop

from tools.cost_probe import redis_server_pid
from tools.customer import CustomerOptions, SimulatedCustomer, customers_of
from tools.http_calls import CallLog, TimedHttp, http_session
from tools.process_cpu import process_cpu_seconds
from tools.session_stream import follow_session
from tools.supervised_system import SupervisedSystem, SystemSettings
from tools.trips import Trip, random_trip

# A customer may hold 5 open sessions, and an address may log in 30 times a minute.
SESSIONS_PER_CUSTOMER = 5
MOST_SESSIONS = 30 * SESSIONS_PER_CUSTOMER
AT_ONCE = 16
QUIET_SECONDS = 1.0
# A second of CPU with nothing in flight: a few hundredths of a second; with sagas in flight, most of it.
QUIET_CPU_SECONDS = 0.1


@dataclass
class PricedSession:
    """One session the steps are priced on, with what each step learns for the next."""

    customer: SimulatedCustomer
    trip: Trip
    session_id: str = ""
    hotel: str = ""
    payment_id: str = ""
    end_state: str = ""


StepAction = Callable[[PricedSession], Awaitable[None]]


@dataclass(frozen=True)
class StepCost:
    """One step: CPU milliseconds per session, by process."""

    step: str
    cpu_ms: Mapping[str, float]

    @property
    def total(self) -> float:
        return sum(self.cpu_ms.values())


def step_markdown(costs: Sequence[StepCost], columns: int = 8) -> list[str]:
    """Steps as rows, the costliest processes as columns (the rest summed), totals last. Pure."""
    totals: dict[str, float] = {}
    for cost in costs:
        for name, ms in cost.cpu_ms.items():
            totals[name] = totals.get(name, 0.0) + ms
    ranked = sorted(totals, key=lambda name: totals[name], reverse=True)
    shown, rest = ranked[:columns], ranked[columns:]
    head = ["step", "all", *shown, *(["others"] if rest else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    whole = StepCost("**a booking**", totals)
    for cost in [*costs, whole]:
        cells = [cost.step, f"{cost.total:.2f}", *(f"{cost.cpu_ms.get(name, 0.0):.2f}" for name in shown)]
        if rest:
            cells.append(f"{sum(cost.cpu_ms.get(name, 0.0) for name in rest):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


class StepRunner:
    """Runs a step over every booking, 16 at a time, and reads each process's CPU around it."""

    def __init__(self, pids: Mapping[str, int], priced: list[PricedSession]) -> None:
        self.pids = pids
        self.priced = priced

    async def run(self, step: str, action: StepAction, settle: bool) -> StepCost:
        before = self._cpu()
        waiting = list(self.priced)

        async def customer() -> None:
            while waiting:
                await action(waiting.pop())

        await asyncio.gather(*(customer() for _ in range(AT_ONCE)))
        if settle:
            await self._quiet()
        after = self._cpu()
        count = len(self.priced)
        return StepCost(
            step, {name: (after[name] - before[name]) * 1000 / count for name in after if name in before}
        )

    async def _quiet(self) -> None:
        """Until the system's CPU over the last second fell to what it uses at rest: the step's work
        is done. /proc counts in ticks of 10 ms, so the bound is a few ticks a second, not one."""
        readings = [(time.monotonic(), sum(self._cpu().values()))]
        while True:
            await asyncio.sleep(QUIET_SECONDS / 4)
            now = (time.monotonic(), sum(self._cpu().values()))
            # Only the newest reading a second old or more is compared: older ones are dropped.
            readings = [r for r in readings if now[0] - r[0] < 2 * QUIET_SECONDS] + [now]
            old_enough = [r for r in readings if now[0] - r[0] >= QUIET_SECONDS]
            if old_enough and now[1] - old_enough[-1][1] <= QUIET_CPU_SECONDS:
                return

    def _cpu(self) -> dict[str, float]:
        """CPU seconds so far of every process of the system, Redis and this one (the customers).
        Only /proc is read: scraping every /metrics would cost the step's own window."""
        return {
            name: seconds
            for name, pid in self.pids.items()
            if (seconds := process_cpu_seconds(pid)) is not None
        }


def process_pids(system: SupervisedSystem) -> dict[str, int]:
    """The system's processes, its Redis and this process (the customers), by name."""
    assert system.supervisor is not None
    pids = {**system.supervisor.pid_by_name(), "load driver": os.getpid()}
    redis_pid = redis_server_pid(system)
    if redis_pid is not None:
        pids["redis"] = redis_pid
    return pids


async def price_steps(system: SupervisedSystem, sessions: int, seed: int) -> list[StepCost]:
    rng = random.Random(seed)
    async with http_session(connections=AT_ONCE * 4 + 32) as client:
        http = TimedHttp(client, CallLog())
        topology = system.topology
        count = math.ceil(sessions / SESSIONS_PER_CUSTOMER)
        customers = customers_of(http, topology, rng, CustomerOptions(decline_rate=0.0), count)
        await asyncio.gather(*(c.sign_up() for c in customers))
        priced = [
            PricedSession(customer, random_trip(customer.rng, date.today()))
            for customer in (customers[n % len(customers)] for n in range(sessions))
        ]

        async def open_session(b: PricedSession) -> None:
            opened = await b.customer.open_session()
            if opened is None:
                raise RuntimeError("a session did not open")
            b.session_id = opened

        async def search_hotels(b: PricedSession) -> None:
            b.hotel = await b.customer.pick_hotel(b.trip)

        async def check_out(b: PricedSession) -> None:
            b.payment_id = await b.customer.check_out(b.session_id)

        async def follow(b: PricedSession) -> None:
            end = await follow_session(client, topology.gateway_url, b.session_id, b.customer.headers, 60)
            b.end_state = end.state

        # (step, action, whether work it started goes on after its answers)
        steps: list[tuple[str, StepAction, bool]] = [
            ("open a session", open_session, False),
            ("search hotels", search_hotels, False),
            ("hold the hotel", lambda b: b.customer.hold_hotel(b.session_id, b.trip, b.hotel), False),
            ("search flights", lambda b: b.customer.search_flights(b.trip), False),
            ("hold the round trip", lambda b: b.customer.hold_flights(b.session_id, b.trip), False),
            ("check out", check_out, False),
            ("pay, webhook and confirm saga", lambda b: b.customer.pay(b.payment_id), True),
            ("follow to the end", follow, False),
        ]
        runner = StepRunner(process_pids(system), priced)
        costs = []
        for step, action, settle in steps:
            await asyncio.sleep(QUIET_SECONDS)  # the previous step's tail stays out of this one
            costs.append(await runner.run(step, action, settle))
        ends = {b.end_state for b in priced}
        if ends != {"STATE_CONFIRMED"}:
            raise RuntimeError(f"not every session was confirmed: {sorted(ends)}")
        return costs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.step_cost", description=__doc__)
    parser.add_argument(
        "--sessions", type=int, default=MOST_SESSIONS, help=f"sessions in the batch (at most {MOST_SESSIONS})"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= MOST_SESSIONS:
        parser.error(f"--sessions must be between 1 and {MOST_SESSIONS}")
    settings = SystemSettings(own_redis=True, env={"LOG_LEVEL": "WARNING", "BUS_CLAIM_IDLE_MS": "30000"})
    with SupervisedSystem(settings, log=lambda line: None) as system:
        # On uvloop, as the load driver runs, so its column matches the load's cost table.
        costs = uvloop.run(price_steps(system, args.sessions, args.seed))
    print(f"CPU milliseconds per session, by step and process ({args.sessions} sessions, 0% chaos):")
    print("\n".join(step_markdown(costs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
