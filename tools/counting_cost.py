"""`python -m tools.counting_cost`: what counting a call costs, against what the call costs.

Each counter of kit.metrics is incremented in a tight loop and its CPU per increment is
printed; with the calls a booking makes (from a load run), that is the counting's CPU per booking.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping

from kit.metrics import (
    count_db_transaction,
    count_provider_call,
    count_redis_round_trip,
    observe_grpc_served,
    observe_http_served,
)

INCREMENTS: Mapping[str, Callable[[], None]] = {
    "grpc": lambda: observe_grpc_served("/travel.bench.v1.Bench/Call", "OK", 0.002),
    "http": lambda: observe_http_served("GET /bench/{id}", 200, 0.002),
    "provider": lambda: count_provider_call("bench", "POST /holds/{id}/confirm", "ok"),
    "db": lambda: count_db_transaction("bench"),
    "redis": count_redis_round_trip,
}


def cpu_ns_per_call(call: Callable[[], None], calls: int = 200_000) -> float:
    """CPU nanoseconds per call, the loop's own cost taken out."""
    start = time.process_time()
    for _ in range(calls):
        call()
    spent = time.process_time() - start
    start = time.process_time()
    for _ in range(calls):
        _nothing()
    empty = time.process_time() - start
    return max(spent - empty, 0.0) / calls * 1e9


def _nothing() -> None:
    return None


def increment_costs() -> dict[str, float]:
    """CPU nanoseconds per increment of each kind of counter."""
    return {kind: cpu_ns_per_call(increment) for kind, increment in INCREMENTS.items()}


def per_booking_us(costs_ns: Mapping[str, float], calls_per_booking: Mapping[str, float]) -> float:
    """Counting's CPU microseconds per booking: each kind's increments times what one costs. Pure."""
    return sum(costs_ns.get(kind, 0.0) * count for kind, count in calls_per_booking.items()) / 1000


def main() -> int:
    for kind, cost in increment_costs().items():
        print(f"{kind:<9} one counted call: {cost:7.0f} ns CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
