"""A deadline schedule in a namespace of its own per test, on the run's Redis, with the bus's partitions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys


@pytest.fixture
async def schedule(redis: Redis) -> AsyncIterator[DeadlineSchedule]:
    schedule = DeadlineSchedule(redis, BusKeys(f"test-expiry-{uuid.uuid4().hex[:10]}"))
    yield schedule
    await redis.delete(*schedule.all_keys())
