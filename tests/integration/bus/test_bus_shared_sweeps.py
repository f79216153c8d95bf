"""An idle consumer's sweeps share one wake: those due before the next claim sweep run with it,
its own retries still wake it when due, and a dead consumer's entries are still claimed."""

from __future__ import annotations

import json
from dataclasses import replace

from bus_harness import FAST, Recorder, all_handlers, confirm_slip, running
from redis.asyncio import Redis

from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.partition_consumer import PartitionConsumer
from bus.publisher import start_saga
from bus.scripts import load_all
from bus.settings import ConsumerSettings
from tests.support.polling import eventually

START = 1_000_000.0
CLAIM_S, PROMOTE_S, TRIM_S = 30.0, 40.0, 80.0
SWEEPS = ConsumerSettings(
    block_ms=80_000, claim_interval_s=CLAIM_S, promote_interval_s=PROMOTE_S, trim_interval_s=TRIM_S
)


class Clock:
    """The consumer's clock, moved by the test: its sweeps fall due when the test says."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


async def consumer_at(client: Redis, keys: BusKeys, clock: Clock) -> PartitionConsumer:
    await load_all(client)
    consumer = PartitionConsumer(
        client, client, keys=keys, partition=0, participant="hotel", consumer="c1",
        handlers={}, settings=SWEEPS, clock=clock,
    )  # fmt: skip
    await consumer.ensure_group()
    await consumer.chores()  # the first pass runs every sweep
    return consumer


async def schedule_retry(client: Redis, keys: BusKeys, due_s: float, marker: str) -> None:
    """A retry in the partition's delay set, as any replica's commit writes one."""
    member = json.dumps(["marker", marker])
    await client.zadd(keys.delayed(0, "hotel"), {member: int(due_s * 1000)})


async def markers_in_stream(client: Redis, keys: BusKeys) -> list[str]:
    return [fields["marker"] for _, fields in await client.xrange(keys.stream(0, "hotel"))]


async def test_sweeps_due_before_the_next_claim_sweep_run_with_it(client7: Redis, keys: BusKeys) -> None:
    clock = Clock()
    consumer = await consumer_at(client7, keys, clock)
    assert consumer.block_ms() == CLAIM_S * 1000, "asleep until the claim sweep"
    # A retry another replica scheduled, found by the sweep for retries (due at START + 40 s).
    await schedule_retry(client7, keys, START + CLAIM_S - 1, "others")
    clock.now = START + CLAIM_S
    await consumer.chores()
    assert await markers_in_stream(client7, keys) == ["others"], "promoted on the claim sweep's wake"
    # Neither that sweep's next turn (START + 70 s) nor trimming's (START + 80 s) wakes it before
    # the next claim sweep (START + 60 s), which runs both.
    assert consumer.block_ms() == CLAIM_S * 1000
    clock.now = START + 2 * CLAIM_S
    await consumer.chores()
    assert consumer.block_ms() == CLAIM_S * 1000


async def test_a_retry_due_between_claim_sweeps_still_wakes_the_consumer_on_time(
    client7: Redis, keys: BusKeys
) -> None:
    clock = Clock()
    consumer = await consumer_at(client7, keys, clock)
    await schedule_retry(client7, keys, START + CLAIM_S + 5, "later")
    clock.now = START + CLAIM_S
    await consumer.chores()
    assert await markers_in_stream(client7, keys) == [], "not due yet"
    assert consumer.block_ms() == 5000, "the read ends when the retry falls due"
    clock.now = START + CLAIM_S + 5
    await consumer.chores()
    assert await markers_in_stream(client7, keys) == ["later"]


async def test_a_sleeping_consumer_claims_a_dead_consumers_entry_after_the_idle_time(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    # Only the claim sweep can wake it: no arrival, no retry, every other timer far away.
    sleepy = replace(FAST, block_ms=60_000, promote_interval_s=60.0, claim_interval_s=0.2)
    await client.xgroup_create(keys.stream(0, "hotel"), "hotel", id="0", mkstream=True)
    await start_saga(client, keys, confirm_slip("g1"))
    await client.xreadgroup("hotel", "dead-consumer", {keys.stream(0, "hotel"): ">"}, count=10)
    recorder = Recorder()

    async def hotel_step_done() -> bool:
        history = await read_history(client, keys, "g1")
        return any(r.step == "hotel.confirm" and r.event == HistoryEvent.COMPLETED for r in history)

    async with running(client, namespace, all_handlers(recorder), settings=sleepy, consumer="heir"):
        await eventually(hotel_step_done, what="the abandoned entry to be claimed and handled")
    assert recorder.calls["hotel.confirm"] == 1
