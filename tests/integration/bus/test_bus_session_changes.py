"""Each write to a saga's history is announced on its session's change channel, for event streams."""

from __future__ import annotations

from bus_harness import Recorder, all_handlers, confirm_slip, running
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from tests.support.polling import eventually
from tests.support.pubsub import next_message

DEADLINE_SECONDS = 15.0


async def test_the_start_and_every_step_of_a_saga_are_announced(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.session_changes("sess-1"))
    try:
        async with running(client, namespace, all_handlers(Recorder())):
            await start_saga(client, keys, confirm_slip("g1", "sess-1"))
            await eventually(lambda: _completed(client, keys, "g1"), what="the saga to complete")
        # Started, then hotel.confirm, flights.confirm and sessions.complete each committed.
        assert [await next_notice(pubsub) for _ in range(4)] == ["saga"] * 4
    finally:
        await pubsub.aclose()


async def next_notice(pubsub: PubSub) -> str:
    return await next_message(pubsub, timeout=DEADLINE_SECONDS, what="a notice on the session's channel")


async def _completed(client: Redis, keys: BusKeys, saga_id: str) -> bool:
    return any(r.event == HistoryEvent.SAGA_COMPLETED for r in await read_history(client, keys, saga_id))
