"""`make bench-expiry`: 100,000 deadlines falling due over a short span, expired through the arbiter.

It starts a real sessions process (gRPC, SQLite, the outbox) on a free port, inserts the sessions
straight into its database, schedules their deadlines, then runs the expiry worker here and reports
how late expiries fire, expirations per second, and how a sweep's cost grows with pending deadlines.
A baseline runs the same worker against a no-op arbiter, so the ratio shows what the arbiter costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import grpc
from redis.asyncio import Redis
from sqlalchemy import insert

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys
from kit.db import make_engine
from kit.migrations import upgrade
from kit.redis_connection import RedisSettings, redis_client
from kit.service_identity import ServiceCredentials, dev_service_key
from kit.settings import Env
from kit.shared_settings import REDIS_URL
from services.expiry.policy import ClaimPolicy
from services.expiry.worker import ExpiryWorker
from services.sessions.client import ArbiterClient
from services.sessions.repository import sessions

ROOT = Path(__file__).resolve().parents[1]
POLICY = ClaimPolicy(lease_seconds=30, batch_size=500)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_worker(
    schedule: DeadlineSchedule,
    deadlines: dict[str, int],
    expire: Callable[[Sequence[str]], Awaitable[int]],
    concurrency: int,
) -> tuple[list[float], float]:
    """Run the worker until every deadline is handled; lateness in ms of each, and the elapsed time."""
    lateness: list[float] = []

    async def timed_expire(session_ids: Sequence[str]) -> int:
        result = await expire(session_ids)
        answered = time.time() * 1000
        lateness.extend(answered - deadlines[sid] for sid in session_ids)
        return result

    worker = ExpiryWorker(schedule, timed_expire, POLICY, concurrency=concurrency)
    task = asyncio.create_task(worker.run())
    first_due = min(deadlines.values()) / 1000
    while len(lateness) < len(deadlines):
        await asyncio.sleep(0.05)
    worker.stop()
    await task
    return lateness, time.time() - first_due


async def sweep_cost(redis: Redis, sizes: list[int], due: int = 200, rounds: int = 30) -> dict[int, float]:
    """Median time of one claim of `due` deadlines with `size` deadlines pending in the set."""
    costs: dict[int, float] = {}
    for size in sizes:
        schedule = DeadlineSchedule(redis, BusKeys(f"bench-sweep-{uuid.uuid4().hex[:8]}"))
        far = 10**13
        for start in range(0, size, 10_000):
            await schedule.schedule_many({f"p{n}": far + n for n in range(start, min(size, start + 10_000))})
        samples = []
        for r in range(rounds):
            await schedule.schedule_many({f"d{r}-{n}": 1 for n in range(due)})
            began = time.perf_counter()
            await schedule.claim_due(now_ms=2, lease_until_ms=3, limit=due)
            samples.append((time.perf_counter() - began) * 1000)
            await schedule.release([f"d{r}-{n}" for n in range(due)])
        costs[size] = statistics.median(samples)
        await redis.delete(*schedule.all_keys())
    return costs


async def insert_sessions(database_url: str, ids: list[str], deadlines: dict[str, int]) -> None:
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    rows = [
        {
            "id": sid,
            "customer_id": "bench",
            "state": "OPEN",
            "version": 0,
            "created_at": now,
            "updated_at": now,
            "expires_at": datetime.fromtimestamp(deadlines[sid] / 1000, tz=UTC),
            "items": "{}",
            "reason": "",
            "payment_id": "",
            "cancel_target": None,
        }
        for sid in ids
    ]
    async with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(sessions), rows[start : start + 5000])
    await engine.dispose()


async def wait_serving(address: str, timeout: float = 60) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)  # type: ignore[attr-defined]
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the sessions process did not start")


async def main(count: int, span_s: float, redis_url: str, concurrency: int) -> int:
    redis = redis_client(RedisSettings.checked(redis_url), decode_responses=True)
    data = Path(tempfile.mkdtemp(prefix="bench-expiry-"))
    namespace = f"bench-expiry-{uuid.uuid4().hex[:8]}"
    port = 50000 + os.getpid() % 10000
    env = {
        **os.environ,
        "TRAVEL_DATA_DIR": str(data),
        "REDIS_URL": redis_url,
        "TRAVEL_NAMESPACE": namespace,
        "SESSIONS_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    # The sessions process starts only on a database its migrations made, as `make run` prepares it.
    upgrade(f"sqlite:///{data / 'sessions.sqlite3'}", None, "sessions")
    process = subprocess.Popen([sys.executable, "-m", "services.sessions"], cwd=ROOT, env=env)
    try:
        await wait_serving(f"127.0.0.1:{port}")
        print("sweep cost (claim 200 due among N pending, median of 30 claims):")
        costs = await sweep_cost(redis, [10_000, 100_000])
        for size, cost in costs.items():
            print(f"  N={size:>7,}: {cost:.3f} ms")
        print(f"  100k/10k cost ratio: {costs[100_000] / costs[10_000]:.2f} (linear would be 10.0)")

        # Baseline: the same worker and Redis, an arbiter that does nothing.
        base_schedule = DeadlineSchedule(redis, BusKeys(f"{namespace}-baseline"))
        start_ms = int((time.time() + 3) * 1000)
        base_deadlines = {f"b{n}": start_ms + int(n * span_s * 1000 / count) for n in range(count)}
        await base_schedule.schedule_many(base_deadlines)

        async def noop(session_ids: Sequence[str]) -> int:
            return len(session_ids)

        base_late, base_elapsed = await run_worker(base_schedule, base_deadlines, noop, concurrency)
        base_rate = count / base_elapsed

        ids = [str(uuid.uuid4()) for _ in range(count)]
        start_ms = int((time.time() + 15) * 1000)
        deadlines = {sid: start_ms + int(n * span_s * 1000 / count) for n, sid in enumerate(ids)}
        await insert_sessions(f"sqlite:///{data / 'sessions.sqlite3'}", ids, deadlines)
        schedule = DeadlineSchedule(redis, BusKeys(namespace))
        await schedule.schedule_many(deadlines)
        if time.time() * 1000 > start_ms:
            print("set-up took longer than the lead time; lateness below includes set-up")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            # The bench stands in for the expiry worker, so it calls with the worker's identity.
            credentials = ServiceCredentials("expiry", dev_service_key(data, "expiry"))
            arbiter = ArbiterClient(channel, credentials)

            async def expire(session_ids: Sequence[str]) -> int:
                return len(await arbiter.expire_many(session_ids))

            late, elapsed = await run_worker(schedule, deadlines, expire, concurrency)
        rate = count / elapsed
        print(f"\n{count:,} deadlines due over {span_s:.0f} s (offered {count / span_s:,.0f}/s)")
        print(
            f"baseline, no-op arbiter : {base_rate:8,.0f} expirations/s, lateness p50 "
            f"{percentile(base_late, 0.5):.0f} ms p99 {percentile(base_late, 0.99):.0f} ms"
        )
        print(
            f"through the arbiter     : {rate:8,.0f} expirations/s, "
            f"lateness p50 {percentile(late, 0.5):.0f} ms p99 {percentile(late, 0.99):.0f} ms "
            f"max {max(late):.0f} ms"
        )
        print(f"ratio arbiter / baseline: {rate / base_rate:.2f}")
        target_ok = percentile(late, 0.99) < 1000 and rate >= 2000
        print(f"targets (p99 < 1000 ms, >= 2,000/s): {'MET' if target_ok else 'MISSED'}")
        return 0
    finally:
        process.terminate()
        process.wait(timeout=30)
        async for key in redis.scan_iter(f"{namespace}*"):
            await redis.delete(key)
        await redis.aclose()


def cli() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.expiry_bench", description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--span", type=float, default=40.0, help="seconds over which deadlines fall due")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--redis-url", default=REDIS_URL.optional(Env()) or "redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    return asyncio.run(main(args.count, args.span, args.redis_url, args.concurrency))


if __name__ == "__main__":
    sys.exit(cli())
