"""Each write to a saga's history is sent on its session's change channel, numbered, for event streams:
from the joint read of every partition too, and as written when the commit finds its step done."""

from __future__ import annotations

import time

from bus_harness import FAST, Recorder, all_handlers, confirm_slip, running
from redis.asyncio import Redis, RedisCluster

from bus.entries import decode_entry
from bus.errors import StepFailure, TransientFailure
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.outcomes import CommitBuilder
from bus.partition_consumer import apply_commits
from bus.publisher import start_saga
from bus.replies import parse_read_reply
from bus.session_notices import saga_event
from tests.support.polling import eventually
from tests.support.pubsub import bytes_client_like, next_notice

DEADLINE_SECONDS = 15.0
PARTITIONS = 8


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


async def test_a_commit_for_a_step_already_done_sends_only_its_duplicate_skipped_record(
    client: Redis, keys: BusKeys
) -> None:
    listener = bytes_client_like(client)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.session_changes("sess-d"))
    try:
        await client.xgroup_create(keys.stream(0, "hotel"), "hotel", id="0", mkstream=True)
        await start_saga(client, keys, confirm_slip("g1", "sess-d"))
        [(entry_id, fields)] = parse_read_reply(
            await client.xreadgroup("hotel", "c1", {keys.stream(0, "hotel"): ">"}, count=10)
        )
        assert fields is not None
        delivery = decode_entry(entry_id, fields)
        commits = CommitBuilder(keys, keys.partition_of("sess-d"), "hotel", "c1", FAST)
        now = time.time()
        failure = StepFailure.of(TransientFailure("provider 503"))
        # Two handlings of one entry raced: one completed the step, the other scheduled a retry.
        racing = [
            commits.completed(delivery, {"ref": "r1"}, now),
            commits.failed(delivery, failure, FAST.retry, now, 0.5),
        ]
        assert await apply_commits(client, "hotel", FAST.retention_ms, racing) == [1, 0]
        notices = [await next_notice(pubsub, timeout=DEADLINE_SECONDS) for _ in range(3)]
        assert [n.seq for n in notices] == [1, 2, 3]
        # The refused commit's notice carries the one record it wrote, not the retry it would have.
        assert [e.outcome for e in notices[2].events] == [HistoryEvent.DUPLICATE_SKIPPED.value.upper()]
        history = await read_history(client, keys, "g1", "sess-d")
        read = [saga_event("g1", r.at, r.event.value, r.step, r.attempt, r.detail) for r in history]
        assert [event for n in notices for event in n.events] == read
    finally:
        await pubsub.aclose()
        await listener.aclose()


async def test_sessions_of_every_partition_get_their_numbered_notices(client: Redis, namespace: str) -> None:
    keys = BusKeys(namespace, PARTITIONS)
    # Five sagas per partition, so a read over every stream commits several partitions at once.
    saga_ids = [f"g{n}" for n in range(5 * PARTITIONS)]
    watched = {keys.partition_of(f"session-{saga_id}"): saga_id for saga_id in saga_ids}
    assert sorted(watched) == list(keys.all_partitions())
    listener = bytes_client_like(client)
    pubsubs = {saga_id: listener.pubsub(ignore_subscribe_messages=True) for saga_id in watched.values()}
    try:
        for saga_id, pubsub in pubsubs.items():
            await pubsub.subscribe(keys.session_changes(f"session-{saga_id}"))
        async with running(
            client, namespace, all_handlers(Recorder()), partitions=PARTITIONS
        ) as participants:
            # On one Redis, one read over every partition's stream and one commit for all of them.
            assert all((p.joint is None) == isinstance(client, RedisCluster) for p in participants)
            for saga_id in saga_ids:
                await start_saga(client, keys, confirm_slip(saga_id))
            for saga_id in saga_ids:
                await eventually(
                    lambda s=saga_id: _completed(client, keys, s), what=f"saga {saga_id} to complete"
                )
        for saga_id, pubsub in pubsubs.items():
            session_id = f"session-{saga_id}"
            notices = [await next_notice(pubsub, timeout=DEADLINE_SECONDS) for _ in range(4)]
            assert [n.seq for n in notices] == [1, 2, 3, 4]
            history = await read_history(client, keys, saga_id, session_id)
            read = [saga_event(saga_id, r.at, r.event.value, r.step, r.attempt, r.detail) for r in history]
            assert [event for n in notices for event in n.events] == read
    finally:
        for pubsub in pubsubs.values():
            await pubsub.aclose()
        await listener.aclose()
