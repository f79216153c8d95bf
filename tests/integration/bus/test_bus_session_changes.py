"""Each write to a saga's history is sent on its session's change channel, numbered, for event streams."""

from __future__ import annotations

from bus_harness import Recorder, all_handlers, confirm_slip, running
from redis.asyncio import Redis

from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from bus.session_notices import saga_event
from tests.support.polling import eventually
from tests.support.pubsub import bytes_client_like, next_notice

DEADLINE_SECONDS = 15.0


async def test_the_start_and_every_step_of_a_saga_are_sent_as_numbered_notices(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    listener = bytes_client_like(client)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.session_changes("sess-1"))
    try:
        async with running(client, namespace, all_handlers(Recorder())):
            await start_saga(client, keys, confirm_slip("g1", "sess-1"))
            await eventually(lambda: _completed(client, keys, "g1"), what="the saga to complete")
        # Started, then hotel.confirm, flights.confirm and sessions.complete each committed.
        notices = [
            await next_notice(pubsub, timeout=DEADLINE_SECONDS, what="a notice on the session's channel")
            for _ in range(4)
        ]
        assert [n.seq for n in notices] == [1, 2, 3, 4]
        assert int(await client.get(keys.session_notices("sess-1"))) == 4
        # The notices carry the history exactly as a read of it shows it, record for record.
        history = await read_history(client, keys, "g1", "sess-1")
        read = [saga_event("g1", r.at, r.event.value, r.step, r.attempt, r.detail) for r in history]
        assert [event for n in notices for event in n.events] == read
        assert not any(n.read_again or n.HasField("session") for n in notices)
    finally:
        await pubsub.aclose()
        await listener.aclose()


async def _completed(client: Redis, keys: BusKeys, saga_id: str) -> bool:
    return any(r.event == HistoryEvent.SAGA_COMPLETED for r in await read_history(client, keys, saga_id))
