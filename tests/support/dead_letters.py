"""Dead letters made as the bus makes them: a confirm saga whose step keeps failing runs out of retries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import RetryPolicy
from bus.consumer import Participant
from bus.context import StepContext
from bus.dead_letters import DeadLetter, list_dead_letters
from bus.errors import TransientFailure
from bus.keys import BusKeys
from bus.publisher import start_saga
from bus.settings import ConsumerSettings
from bus.slip import COMPENSATABLE, PIVOT, RETRIABLE, StepDeclaration, build_slip

CONFIRM_STEPS = [
    StepDeclaration("hotel.confirm", "hotel", COMPENSATABLE, "hotel.cancel"),
    StepDeclaration("flights.confirm", "flights", PIVOT),
    StepDeclaration("sessions.complete", "sessions", RETRIABLE),
]
AFTER_COMPENSATION = [StepDeclaration("sessions.cancelled", "sessions", RETRIABLE)]
# One attempt: the first failure dead-letters the step.
ONCE = ConsumerSettings(
    block_ms=10, retry=RetryPolicy(max_attempts=1), promote_interval_s=0, trim_interval_s=3600
)


async def dead_letter(
    redis: Redis,
    keys: BusKeys,
    saga_id: str,
    session_id: str,
    failing: str = "hotel",
    at: float | None = None,
) -> DeadLetter:
    """Run a confirm saga until `failing` (hotel or flights) gives up on its confirm step; the dead
    letter it left. `at` (epoch seconds) is the participants' clock, so the letter's age is known."""
    clock = at if at is not None else datetime.now(UTC).timestamp()

    async def fails(context: StepContext) -> Mapping[str, str] | None:
        raise TransientFailure("provider 503")

    async def succeeds(context: StepContext) -> Mapping[str, str] | None:
        return {"ref": context.idempotency_key}

    def participant(name: str) -> Participant:
        return Participant(
            redis, namespace=keys.namespace, participant=name, consumer="c1", partitions=keys.partitions,
            handlers={f"{name}.confirm": fails if name == failing else succeeds}, settings=ONCE,
            clock=lambda: clock, random_unit=lambda: 0.5,
        )  # fmt: skip

    participants = [participant("hotel"), participant("flights")]
    try:
        for each in participants:
            await each.ensure_group()
        slip = build_slip(
            saga_id=saga_id, session_id=session_id, kind=pb.SAGA_KIND_CONFIRM, steps=CONFIRM_STEPS,
            now=datetime.fromtimestamp(clock, tz=UTC), after_compensation=AFTER_COMPENSATION,
        )  # fmt: skip
        await start_saga(redis, keys, slip)
        # Each pass reads what the previous one published: hotel, then flights.
        for each in participants:
            await each.run_once()
            await each.run_once()
            if each.participant == failing:
                break
    finally:
        for each in participants:
            await each.aclose()
    letters = [d for d in await list_dead_letters(redis, keys, count=1000) if d.saga_id == saga_id]
    assert len(letters) == 1, f"saga {saga_id} left {len(letters)} dead letters"
    return letters[0]
