"""The dead-letter watcher on real Redis and a real arbiter on SQLite: a dead saga flags its session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys
from bus.outbox import metadata as outbox_metadata
from kit.db import open_database
from services.sagas import definitions as saga_plans
from services.sessions.arbiter import Arbiter
from services.sessions.attention import GROUP, DeadLetterWatcher
from services.sessions.domain import State
from services.sessions.repository import SessionRepository, metadata
from services.sessions.saga_writes import OutboxSagaStarter
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
DEADLINE_SECONDS = 15.0


@pytest.fixture
def keys() -> BusKeys:
    return BusKeys(f"attention{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def arbiter(tmp_path: Path, redis: Redis, keys: BusKeys) -> AsyncIterator[Arbiter]:
    database = await open_database(
        f"sqlite:///{tmp_path / 'sessions.sqlite3'}", None, "sessions", metadata, outbox_metadata
    )
    yield Arbiter(
        repository=SessionRepository(database),
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans),
        deadlines=DeadlineSchedule(redis, keys),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )
    await database.close()
    found = [key async for key in redis.scan_iter(match=f"{keys.namespace}:*", count=1000)]
    if found:
        await redis.delete(*found)


@pytest.fixture
async def watching(redis: Redis, keys: BusKeys, arbiter: Arbiter) -> AsyncIterator[Callable[[], None]]:
    """Start the watcher (consumer "sessions-1") when the test says so; stopped at the end."""
    tasks: list[tuple[DeadLetterWatcher, asyncio.Task[None]]] = []

    def start() -> None:
        watcher = DeadLetterWatcher(redis, keys, arbiter, "sessions-1")
        tasks.append((watcher, asyncio.create_task(watcher.run())))

    yield start
    for watcher, task in tasks:
        watcher.stop()
        await asyncio.wait_for(task, DEADLINE_SECONDS)


async def cancelling(arbiter: Arbiter) -> str:
    customer = uuid.uuid4().hex
    session = await arbiter.open(customer)
    await arbiter.customer_cancel(session.id, customer)
    return session.id


async def dead_letter(redis: Redis, keys: BusKeys, session_id: str) -> None:
    fields: dict[Any, Any] = {
        "saga_id": f"cancel-{session_id}",
        "step": "hotel.release",
        "error": "provider kept failing",
    }
    if session_id:
        fields["session_id"] = session_id
    await redis.xadd(keys.dead_letters(keys.partition_of(session_id)), fields)


async def state(arbiter: Arbiter, session_id: str) -> State:
    return (await arbiter.get(session_id)).state


async def nothing_pending(redis: Redis, keys: BusKeys) -> bool:
    for partition in keys.all_partitions():
        if int((await redis.xpending(keys.dead_letters(partition), GROUP))["pending"]):
            return False
    return True


async def test_a_dead_lettered_saga_leaves_its_session_needing_attention(
    redis: Redis, keys: BusKeys, arbiter: Arbiter, watching: Callable[[], None]
) -> None:
    session_id = await cancelling(arbiter)
    watching()
    await dead_letter(redis, keys, session_id)

    async def flagged() -> bool:
        return await state(arbiter, session_id) is State.NEEDS_ATTENTION

    await eventually(flagged, timeout=DEADLINE_SECONDS, what="the session to need attention")
    await eventually(
        lambda: nothing_pending(redis, keys),
        timeout=DEADLINE_SECONDS,
        what="the dead letter to be acknowledged",
    )


async def test_letters_naming_no_known_session_are_acknowledged_and_do_not_block_others(
    redis: Redis, keys: BusKeys, arbiter: Arbiter, watching: Callable[[], None]
) -> None:
    session_id = await cancelling(arbiter)
    await dead_letter(redis, keys, "")
    await dead_letter(redis, keys, str(uuid.uuid4()))
    await dead_letter(redis, keys, session_id)
    watching()

    async def flagged() -> bool:
        return await state(arbiter, session_id) is State.NEEDS_ATTENTION

    await eventually(flagged, timeout=DEADLINE_SECONDS, what="the known session to need attention")
    await eventually(
        lambda: nothing_pending(redis, keys),
        timeout=DEADLINE_SECONDS,
        what="every dead letter to be acknowledged",
    )


async def test_letters_read_but_not_acknowledged_before_a_restart_are_read_again(
    redis: Redis, keys: BusKeys, arbiter: Arbiter, watching: Callable[[], None]
) -> None:
    session_id = await cancelling(arbiter)
    for partition in keys.all_partitions():
        await redis.xgroup_create(keys.dead_letters(partition), GROUP, id="0", mkstream=True)
    await dead_letter(redis, keys, session_id)
    # A watcher that died after reading the letter, before flagging the session.
    letters = keys.dead_letters(keys.partition_of(session_id))
    assert await redis.xreadgroup(GROUP, "sessions-1", {letters: ">"}, count=10)
    assert not await nothing_pending(redis, keys)
    watching()

    async def flagged() -> bool:
        return await state(arbiter, session_id) is State.NEEDS_ATTENTION

    await eventually(
        flagged, timeout=DEADLINE_SECONDS, what="the session to need attention after the restart"
    )
    await eventually(
        lambda: nothing_pending(redis, keys),
        timeout=DEADLINE_SECONDS,
        what="the reread letter to be acknowledged",
    )
