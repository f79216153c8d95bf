"""Several partitions: one read over every stream on one Redis, a loop per partition on a cluster,
and entries written as protobuf JSON before an upgrade still consumed."""

from __future__ import annotations

from bus_harness import Recorder, all_handlers, confirm_slip, pending_total, running
from redis.asyncio import Redis, RedisCluster

from bus import slip_json
from bus.consumer import Participant
from bus.entries import JSON_SLIP_FIELD, SLIP_FIELD, entry_fields
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from tests.support.polling import eventually

PARTITIONS = 8
PARTICIPANTS = ("hotel", "flights", "sessions")


async def completed(client: Redis, keys: BusKeys, saga_ids: list[str]) -> bool:
    for saga_id in saga_ids:
        if not any(r.event == HistoryEvent.SAGA_COMPLETED for r in await read_history(client, keys, saga_id)):
            return False
    return await pending_total(client, keys, PARTICIPANTS) == 0


def spread(keys: BusKeys, sagas: int) -> list[str]:
    """Saga ids whose sessions cover every partition."""
    ids = [f"g{n}" for n in range(sagas)]
    assert {keys.partition_of(f"session-{saga_id}") for saga_id in ids} == set(keys.all_partitions())
    return ids


async def test_sagas_of_every_partition_complete(client: Redis, namespace: str) -> None:
    keys = BusKeys(namespace, PARTITIONS)
    saga_ids = spread(keys, 40)
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder), partitions=PARTITIONS) as participants:
        for participant in participants:
            # One loop reading every stream on one Redis; a loop per partition on a cluster.
            assert (participant.joint is None) == isinstance(client, RedisCluster)
        for saga_id in saga_ids:
            await start_saga(client, keys, confirm_slip(saga_id))
        await eventually(lambda: completed(client, keys, saga_ids), what="every saga to complete")
    assert recorder.calls == {"hotel.confirm": 40, "flights.confirm": 40, "sessions.complete": 40}


async def test_pending_entries_of_several_partitions_are_reread_on_start(
    client: Redis, namespace: str
) -> None:
    keys = BusKeys(namespace, PARTITIONS)
    saga_ids = spread(keys, 40)
    hotel = Participant(client, namespace=namespace, participant="hotel", consumer="c1", handlers={},
                        partitions=PARTITIONS)  # fmt: skip
    await hotel.ensure_group()
    for saga_id in saga_ids:
        await start_saga(client, keys, confirm_slip(saga_id))
    # c1 read every partition's entries and died before acking them.
    for partition in keys.all_partitions():
        await client.xreadgroup("hotel", "c1", {keys.stream(partition, "hotel"): ">"}, count=100)
    assert await pending_total(client, keys, ["hotel"]) == 40
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder), consumer="c1", partitions=PARTITIONS):
        await eventually(lambda: completed(client, keys, saga_ids), what="every saga to complete")
    assert recorder.calls["hotel.confirm"] == 40


async def test_entries_written_as_protobuf_json_before_an_upgrade_are_consumed(
    client: Redis, namespace: str
) -> None:
    keys = BusKeys(namespace, PARTITIONS)
    saga_ids = spread(keys, 40)
    recorder = Recorder()
    for saga_id in saga_ids:
        slip = confirm_slip(saga_id)
        # An entry as the previous release wrote it: the same plain fields, the slip as JSON.
        fields = dict(zip(*[iter(entry_fields(slip, 1.0))] * 2, strict=True))
        del fields[SLIP_FIELD]
        fields[JSON_SLIP_FIELD] = slip_json.dumps(slip)
        await client.xadd(keys.stream(keys.partition_of(slip.session_id), "hotel"), fields)  # type: ignore[arg-type]
    async with running(client, namespace, all_handlers(recorder), partitions=PARTITIONS):
        await eventually(lambda: completed(client, keys, saga_ids), what="every saga to complete")
    assert recorder.calls == {"hotel.confirm": 40, "flights.confirm": 40, "sessions.complete": 40}
    assert {c.idempotency_key for c in recorder.contexts if c.step == "hotel.confirm"} == {
        f"{saga_id}:hotel.confirm" for saga_id in saga_ids
    }
    forwarded = [
        fields
        for partition in keys.all_partitions()
        for _, fields in await client.xrange(keys.stream(partition, "flights"))
    ]
    assert len(forwarded) == 40
    assert all(SLIP_FIELD in fields and JSON_SLIP_FIELD not in fields for fields in forwarded)


async def test_every_commit_is_settled_once_whatever_batch_it_overlapped(
    client: Redis, namespace: str
) -> None:
    # Under run() a batch's commit is still on its way while the next batch is read and handled:
    # each step is still committed once, and the last commit is accounted for before run() returns.
    keys = BusKeys(namespace, PARTITIONS)
    saga_ids = spread(keys, 120)
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder), partitions=PARTITIONS) as participants:
        for saga_id in saga_ids:
            await start_saga(client, keys, confirm_slip(saga_id))
        await eventually(lambda: completed(client, keys, saga_ids), what="every saga to complete")
    assert [participant.processed for participant in participants] == [120, 120, 120]
    for saga_id in saga_ids:
        events = [record.event for record in await read_history(client, keys, saga_id)]
        assert events.count(HistoryEvent.COMPLETED) == 3
        assert HistoryEvent.DUPLICATE_SKIPPED not in events
