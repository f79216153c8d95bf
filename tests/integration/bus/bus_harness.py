"""Shared pieces of the bus integration tests: sample sagas, running participants."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import RetryPolicy
from bus.consumer import Participant
from bus.context import Handler, StepContext
from bus.keys import BusKeys
from bus.settings import ConsumerSettings
from bus.slip import COMPENSATABLE, PIVOT, RETRIABLE, StepDeclaration, build_slip

FAST = ConsumerSettings(
    batch_size=20,
    block_ms=20,
    claim_idle_ms=200,
    claim_interval_s=0.05,
    retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05),
    compensation_retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05),
    promote_interval_s=0.01,
    trim_interval_s=3600,  # tests count stream entries; trimming has its own test
)

CONFIRM_STEPS = [
    StepDeclaration("hotel.confirm", "hotel", COMPENSATABLE, "hotel.cancel"),
    StepDeclaration("flights.confirm", "flights", PIVOT),
    StepDeclaration("sessions.complete", "sessions", RETRIABLE),
]
AFTER_COMPENSATION = [StepDeclaration("sessions.cancelled", "sessions", RETRIABLE)]


def confirm_slip(saga_id: str, session_id: str = "") -> pb.RoutingSlip:
    return build_slip(
        saga_id=saga_id, session_id=session_id or f"session-{saga_id}",
        kind=pb.SAGA_KIND_CONFIRM, steps=CONFIRM_STEPS, now=datetime.now(UTC),
        after_compensation=AFTER_COMPENSATION,
    )  # fmt: skip


class Recorder:
    """Handlers that count their calls and do what a test tells them to."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.contexts: list[StepContext] = []

    def handler(self, behaviour: Callable[[StepContext], Mapping[str, str] | None] | None = None) -> Handler:
        async def handle(context: StepContext) -> Mapping[str, str] | None:
            self.calls[context.step] += 1
            self.contexts.append(context)
            if behaviour is not None:
                return behaviour(context)
            return {"ref": context.idempotency_key}

        return handle


def all_handlers(recorder: Recorder, **overrides: Handler) -> dict[str, dict[str, Handler]]:
    """Handlers per participant for the confirm saga; `overrides` replace steps by name."""
    names = {
        "hotel": ["hotel.confirm", "hotel.cancel"],
        "flights": ["flights.confirm"],
        "sessions": ["sessions.complete", "sessions.cancelled"],
    }
    return {
        participant: {step: overrides.get(step.replace(".", "_"), recorder.handler()) for step in steps}
        for participant, steps in names.items()
    }


@asynccontextmanager
async def running(
    redis: Redis,
    namespace: str,
    handlers: Mapping[str, Mapping[str, Handler]],
    settings: ConsumerSettings = FAST,
    consumer: str = "c1",
    partitions: int = 1,
) -> AsyncIterator[list[Participant]]:
    """Run one consumer per participant until the block ends, then stop them gracefully."""
    participants = [
        Participant(
            redis,
            namespace=namespace,
            participant=name,
            consumer=consumer,
            handlers=steps,
            settings=settings,
            partitions=partitions,
        )
        for name, steps in handlers.items()
    ]
    tasks = [asyncio.create_task(p.run()) for p in participants]
    try:
        yield participants
    finally:
        for p in participants:
            p.stop()
        await asyncio.gather(*tasks)


async def pending_total(redis: Redis, keys: BusKeys, participants: Sequence[str]) -> int:
    total = 0
    for name in participants:
        for partition in keys.all_partitions():
            summary = await redis.xpending(keys.stream(partition, name), keys.group(name))
            total += int(summary["pending"])
    return total


async def saga_ids_in(redis: Redis, stream: str) -> Counter[str]:
    """How many entries each saga has in a stream (duplicates show as counts above one)."""
    return Counter(fields["saga_id"] for _, fields in await redis.xrange(stream))
