"""A deadline schedule in a namespace of its own per test, on the run's Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.expiry.schedule import DeadlineSchedule


@pytest.fixture
async def schedule(redis: Redis) -> AsyncIterator[DeadlineSchedule]:
    namespace = f"test-expiry-{uuid.uuid4().hex[:10]}"
    yield DeadlineSchedule(redis, namespace)
    await redis.delete(f"{namespace}:{{expiry}}:deadlines", f"{namespace}:{{expiry}}:leases")
