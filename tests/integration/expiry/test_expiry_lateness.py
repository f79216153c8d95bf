"""A claim tells how late each due deadline was claimed; a reclaimed lease is no deadline, tells nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys


async def test_claimed_deadlines_report_their_lateness(redis: Redis) -> None:
    heard: list[float] = []

    def claimed_late(seconds: Sequence[float]) -> None:
        heard.extend(seconds)

    namespace = f"test-late-{uuid.uuid4().hex[:10]}"
    schedule = DeadlineSchedule(redis, BusKeys(namespace), claimed_late=claimed_late)
    try:
        await schedule.schedule_many({"s1": 1000, "s2": 1500})
        assert sorted(await schedule.claim_due(now_ms=2000, lease_until_ms=3000, limit=10)) == ["s1", "s2"]
        assert sorted(heard) == pytest.approx([0.5, 1.0])
        heard.clear()
        # The worker that claimed them died: its lease runs out and they are claimed again.
        assert sorted(await schedule.claim_due(now_ms=3000, lease_until_ms=4000, limit=10)) == ["s1", "s2"]
        assert heard == []
    finally:
        await redis.delete(*schedule.all_keys())
