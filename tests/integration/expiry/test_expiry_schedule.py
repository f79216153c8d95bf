"""Deadlines in real Redis: atomic claims, leases that survive a dead worker, two racing workers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from bus.deadlines import DeadlineSchedule
from kit.errors import DependencyUnavailable
from services.expiry.policy import ClaimPolicy
from services.expiry.worker import ExpiryWorker

POLICY = ClaimPolicy(lease_seconds=5, batch_size=50)


async def test_only_due_deadlines_are_claimed(schedule: DeadlineSchedule) -> None:
    await schedule.schedule_many({"due-1": 1000, "due-2": 2000, "later": 9000})
    claimed = await schedule.claim_due(now_ms=5000, lease_until_ms=10_000, limit=10)
    assert sorted(claimed) == ["due-1", "due-2"]
    assert await schedule.claim_due(now_ms=5000, lease_until_ms=10_000, limit=10) == []  # leased


async def test_a_dead_workers_lease_is_reclaimed_after_it_runs_out(schedule: DeadlineSchedule) -> None:
    await schedule.schedule("s1", 1000)
    assert await schedule.claim_due(now_ms=2000, lease_until_ms=7000, limit=10) == ["s1"]
    # The worker died without releasing: nobody gets it while the lease runs...
    assert await schedule.claim_due(now_ms=6999, lease_until_ms=12_000, limit=10) == []
    # ...and somebody does once it ran out.
    assert await schedule.claim_due(now_ms=7000, lease_until_ms=12_000, limit=10) == ["s1"]
    await schedule.release(["s1"])
    assert await schedule.claim_due(now_ms=20_000, lease_until_ms=25_000, limit=10) == []


async def test_two_racing_workers_expire_each_session_once(schedule: DeadlineSchedule) -> None:
    sessions = [f"s{n}" for n in range(500)]
    await schedule.schedule_many({sid: 1000 + n for n, sid in enumerate(sessions)})
    calls: Counter[str] = Counter()

    async def expire(session_ids: Sequence[str]) -> int:
        calls.update(session_ids)
        await asyncio.sleep(0)
        return len(session_ids)

    workers = [ExpiryWorker(schedule, expire, POLICY, clock_ms=lambda: 10_000, chunk=20) for _ in range(2)]
    tasks = [asyncio.create_task(w.run()) for w in workers]

    async def drained() -> None:
        while await schedule.pending() or sum(calls.values()) < len(sessions):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(drained(), timeout=30)
    for worker in workers:
        worker.stop()
    await asyncio.gather(*tasks)
    assert set(calls) == set(sessions)
    assert max(calls.values()) == 1
    assert all(w.expired > 0 for w in workers), "both workers took part in the race"


async def test_arbiter_unavailable_reschedules_shortly(schedule: DeadlineSchedule) -> None:
    await schedule.schedule("s1", 1000)

    async def unavailable(session_ids: Sequence[str]) -> int:
        raise DependencyUnavailable("arbiter down")

    worker = ExpiryWorker(schedule, unavailable, POLICY, clock_ms=lambda: 2000)
    assert await worker.sweep_once() == 1
    assert await schedule.claim_due(now_ms=2999, lease_until_ms=9000, limit=10) == []
    assert await schedule.claim_due(now_ms=3000, lease_until_ms=9000, limit=10) == ["s1"]
