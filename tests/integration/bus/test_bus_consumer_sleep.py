"""An idle consumer sleeps in one long blocking read: entries, its own retries and stop() wake it."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bus_harness import FAST, Recorder, all_handlers, confirm_slip, running
from redis.asyncio import Redis

from bus.backoff import RetryPolicy
from bus.consumer import Participant
from bus.context import StepContext
from bus.errors import TransientFailure
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from tests.support.polling import eventually

# Every timer far beyond the test's deadlines: only an arrival, a due retry or stop() can wake it.
LONG_SECONDS = 60.0
SLEEPY = replace(
    FAST,
    block_ms=int(LONG_SECONDS * 1000),
    claim_interval_s=LONG_SECONDS,
    promote_interval_s=LONG_SECONDS,
    retry=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.1),
)


async def test_an_entry_and_its_own_retry_wake_a_sleeping_consumer(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    recorder = Recorder()
    failures = [1]

    def fail_once(context: StepContext) -> None:
        if failures[0]:
            failures[0] -= 1
            raise TransientFailure("provider 503")

    handlers = all_handlers(recorder, hotel_confirm=recorder.handler(fail_once))
    async with running(client, namespace, handlers, settings=SLEEPY) as participants:
        # Each consumer's first pass is over once it waits in its long read.
        await eventually(lambda: _all_waiting(participants), what="the consumers to sleep")
        await start_saga(client, keys, confirm_slip("g1", "sess"))
        await eventually(lambda: _completed(client, keys, "g1"), what="the saga to complete")
    assert recorder.calls["hotel.confirm"] == 2, "failed once, then retried when due"
    events = [r.event for r in await read_history(client, keys, "g1")]
    assert HistoryEvent.RETRY_SCHEDULED in events


async def test_stop_ends_a_consumer_waiting_in_a_long_read(client: Redis, namespace: str) -> None:
    participant = Participant(
        client, namespace=namespace, participant="hotel", consumer="c1",
        handlers={"hotel.confirm": Recorder().handler()}, settings=SLEEPY,
    )  # fmt: skip
    task = asyncio.create_task(participant.run())
    await eventually(lambda: _all_waiting([participant]), what="the consumer to sleep")
    participant.stop()
    await asyncio.wait_for(task, timeout=LONG_SECONDS / 2)
    assert await client.ping()  # the shared client survived the cut-short read


async def _all_waiting(participants: list[Participant]) -> bool:
    return all(p.waiting for p in participants)


async def _completed(client: Redis, keys: BusKeys, saga_id: str) -> bool:
    return any(r.event == HistoryEvent.SAGA_COMPLETED for r in await read_history(client, keys, saga_id))
