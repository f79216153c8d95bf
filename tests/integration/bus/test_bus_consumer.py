"""Consumer behaviour against real Redis 7 and 6.2: forward, compensation, retries, recovery."""

from __future__ import annotations

import time

from bus_harness import FAST, Recorder, all_handlers, confirm_slip, pending_total, running, saga_ids_in
from redis.asyncio import Redis

from bus.context import StepContext
from bus.entries import decode_entry
from bus.errors import BusinessRefusal, StepFailure, TransientFailure
from bus.history import HistoryEvent, read_history, read_session_history
from bus.keys import BusKeys
from bus.outcomes import CommitBuilder
from bus.partition_consumer import apply_commits
from bus.publisher import start_saga
from bus.replies import parse_read_reply
from tests.support.polling import eventually

PARTICIPANTS = ("hotel", "flights", "sessions")


async def finished(client: Redis, keys: BusKeys, saga_id: str, event: HistoryEvent) -> bool:
    return any(r.event == event for r in await read_history(client, keys, saga_id))


async def test_forward_path_runs_every_step_once(client: Redis, keys: BusKeys, namespace: str) -> None:
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder)):
        for n in range(5):
            assert await start_saga(client, keys, confirm_slip(f"g{n}", "sess")) is not None
        for n in range(5):
            await eventually(
                lambda n=n: finished(client, keys, f"g{n}", HistoryEvent.SAGA_COMPLETED),
                what=f"saga g{n} to complete",
            )
        await eventually(lambda: _no_pending(client, keys), what="no pending entries")
    assert recorder.calls == {"hotel.confirm": 5, "flights.confirm": 5, "sessions.complete": 5}
    for name in PARTICIPANTS:
        assert set((await saga_ids_in(client, keys.stream(0, name))).values()) == {1}
    sessions = await read_session_history(client, keys, "sess")
    assert sorted(sessions) == [f"g{n}" for n in range(5)]
    events = [r.event for r in sessions["g0"]]
    assert events[0] == HistoryEvent.STARTED and events[-1] == HistoryEvent.SAGA_COMPLETED


async def _no_pending(client: Redis, keys: BusKeys) -> bool:
    return await pending_total(client, keys, PARTICIPANTS) == 0


async def test_business_refusal_compensates_without_retry(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    recorder = Recorder()

    def refuse(context: StepContext) -> None:
        raise BusinessRefusal("no seats left")

    handlers = all_handlers(recorder, flights_confirm=recorder.handler(refuse))
    async with running(client, namespace, handlers):
        await start_saga(client, keys, confirm_slip("g1"))
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.SAGA_COMPENSATED))
    assert recorder.calls == {
        "hotel.confirm": 1, "flights.confirm": 1, "hotel.cancel": 1, "sessions.cancelled": 1
    }  # fmt: skip
    cancel = next(c for c in recorder.contexts if c.step == "hotel.cancel")
    assert dict(cancel.arguments) == {"ref": "g1:hotel.confirm"}, "undo data reaches the compensation"
    assert cancel.compensating
    assert [e.name for e in cancel.undo_log] == ["hotel.confirm"]


async def test_transient_failures_are_retried_then_succeed(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    recorder = Recorder()

    def flaky(context: StepContext) -> None:
        if context.attempt < 2:
            raise TransientFailure("provider timeout")
        return None

    handlers = all_handlers(recorder, flights_confirm=recorder.handler(flaky))
    async with running(client, namespace, handlers):
        await start_saga(client, keys, confirm_slip("g1"))
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.SAGA_COMPLETED))
    assert recorder.calls["flights.confirm"] == 3
    attempts = [c.attempt for c in recorder.contexts if c.step == "flights.confirm"]
    assert attempts == [0, 1, 2]
    keys_seen = {c.idempotency_key for c in recorder.contexts if c.step == "flights.confirm"}
    assert keys_seen == {"g1:flights.confirm"}
    events = [r.event for r in await read_history(client, keys, "g1")]
    assert events.count(HistoryEvent.RETRY_SCHEDULED) == 2


async def test_a_new_entry_of_a_step_already_done_is_refused_by_the_commit(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder)):
        await start_saga(client, keys, confirm_slip("g1"))
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.SAGA_COMPLETED))
        # Write the very entry the hotel consumed again: a first delivery, so no check before the
        # handler; its commit finds the step's marker and forwards nothing.
        [(_, fields)] = await client.xrange(keys.stream(0, "hotel"), count=1)
        await client.xadd(keys.stream(0, "hotel"), fields)
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.DUPLICATE_SKIPPED))
        await eventually(lambda: _no_pending(client, keys))
    assert recorder.calls["hotel.confirm"] == 2, "the idempotent effect ran again, with the same key"
    assert {c.idempotency_key for c in recorder.contexts if c.step == "hotel.confirm"} == {"g1:hotel.confirm"}
    assert (await saga_ids_in(client, keys.stream(0, "flights")))["g1"] == 1
    skipped = [r for r in await read_history(client, keys, "g1") if r.event == HistoryEvent.DUPLICATE_SKIPPED]
    assert [(r.step, r.participant) for r in skipped] == [("hotel.confirm", "hotel")]


async def test_a_redelivered_entry_of_a_step_already_done_is_skipped_before_its_handler(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder)):
        await start_saga(client, keys, confirm_slip("g1"))
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.SAGA_COMPLETED))
    # The same step again, read by c1, which then died before acking it: c1 rereads it on start.
    [(_, fields)] = await client.xrange(keys.stream(0, "hotel"), count=1)
    await client.xadd(keys.stream(0, "hotel"), fields)
    await client.xreadgroup("hotel", "c1", {keys.stream(0, "hotel"): ">"}, count=10)
    async with running(client, namespace, all_handlers(recorder), consumer="c1"):
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.DUPLICATE_SKIPPED))
        await eventually(lambda: _no_pending(client, keys))
    assert recorder.calls["hotel.confirm"] == 1
    history = await read_history(client, keys, "g1")
    assert [r.event for r in history if r.step == "hotel.confirm"].count(HistoryEvent.COMPLETED) == 1


async def test_a_retry_or_dead_letter_of_a_step_already_done_is_dropped(client: Redis, keys: BusKeys) -> None:
    await client.xgroup_create(keys.stream(0, "hotel"), "hotel", id="0", mkstream=True)
    await start_saga(client, keys, confirm_slip("g1"))
    [(entry_id, fields)] = parse_read_reply(
        await client.xreadgroup("hotel", "c1", {keys.stream(0, "hotel"): ">"}, count=10)
    )
    assert fields is not None
    delivery = decode_entry(entry_id, fields)
    commits = CommitBuilder(keys, 0, "hotel", "c1", FAST)
    now = time.time()
    failure = StepFailure.of(TransientFailure("provider 503"))
    # Two handlings of one entry raced: one completed the step, the other failed it, or gave up.
    racing = [
        commits.completed(delivery, {"ref": "r1"}, now),
        commits.failed(delivery, failure, FAST.retry, now, 0.5),
        commits.dead(delivery, "gave up", now, failure=failure),
    ]
    assert await apply_commits(client, "hotel", FAST.retention_ms, racing) == [1, 0, 0]
    assert await client.zcard(keys.delayed(0, "hotel")) == 0
    assert await client.xlen(keys.dead_letters(0)) == 0
    assert await client.xlen(keys.stream(0, "flights")) == 1
    events = [r.event for r in await read_history(client, keys, "g1")]
    assert events.count(HistoryEvent.DUPLICATE_SKIPPED) == 2


async def test_publishing_twice_starts_once(client: Redis, keys: BusKeys) -> None:
    slip = confirm_slip("g1")
    assert await start_saga(client, keys, slip) is not None
    assert await start_saga(client, keys, slip) is None
    assert await client.xlen(keys.stream(0, "hotel")) == 1


async def test_nogroup_recreates_the_group(client: Redis, keys: BusKeys, namespace: str) -> None:
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder)):
        await start_saga(client, keys, confirm_slip("g1"))
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.SAGA_COMPLETED))
        await client.xgroup_destroy(keys.stream(0, "hotel"), keys.group("hotel"))
        await start_saga(client, keys, confirm_slip("g2"))
        await eventually(lambda: finished(client, keys, "g2", HistoryEvent.SAGA_COMPLETED))
    # The recreated group rereads g1's old entry from id 0: recognised and skipped.
    assert recorder.calls["hotel.confirm"] == 2


async def test_own_pending_entries_are_reread_on_start(client: Redis, keys: BusKeys, namespace: str) -> None:
    await client.xgroup_create(keys.stream(0, "hotel"), "hotel", id="0", mkstream=True)
    await start_saga(client, keys, confirm_slip("g1"))
    # Consumer c1 read the entry and died before acking it.
    await client.xreadgroup("hotel", "c1", {keys.stream(0, "hotel"): ">"}, count=10)
    recorder = Recorder()
    settings_without_claims = {"consumer": "c1"}
    async with running(client, namespace, all_handlers(recorder), **settings_without_claims):
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.SAGA_COMPLETED))
    assert recorder.calls["hotel.confirm"] == 1


async def test_abandoned_entries_are_claimed(client: Redis, keys: BusKeys, namespace: str) -> None:
    await client.xgroup_create(keys.stream(0, "hotel"), "hotel", id="0", mkstream=True)
    await start_saga(client, keys, confirm_slip("g1"))
    await client.xreadgroup("hotel", "dead-consumer", {keys.stream(0, "hotel"): ">"}, count=10)
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder), consumer="heir"):
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.SAGA_COMPLETED))
    assert recorder.calls["hotel.confirm"] == 1
    hotel_step = next(
        r
        for r in await read_history(client, keys, "g1")
        if r.step == "hotel.confirm" and r.event == HistoryEvent.COMPLETED
    )
    assert hotel_step.consumer == "heir"


async def test_over_delivered_entry_is_dead_lettered(client: Redis, keys: BusKeys, namespace: str) -> None:
    await client.xgroup_create(keys.stream(0, "hotel"), "hotel", id="0", mkstream=True)
    entry_id = await start_saga(client, keys, confirm_slip("g1"))
    await client.xreadgroup("hotel", "c1", {keys.stream(0, "hotel"): ">"}, count=10)
    for _ in range(12):  # a poison message that crashed its consumer again and again
        await client.xclaim(keys.stream(0, "hotel"), "hotel", "c1", 0, [entry_id])
    recorder = Recorder()
    async with running(client, namespace, all_handlers(recorder), consumer="c1"):
        await eventually(lambda: finished(client, keys, "g1", HistoryEvent.DEAD_LETTERED))
    assert recorder.calls["hotel.confirm"] == 0
    [(_, letter)] = await client.xrange(keys.dead_letters(0))
    assert letter["saga_id"] == "g1" and "delivered" in letter["error"]
