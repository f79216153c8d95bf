"""Consumer process for the kill test: runs every participant of the confirm saga until killed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

from redis.asyncio import Redis

from bus.backoff import RetryPolicy
from bus.consumer import Participant
from bus.context import StepContext
from bus.settings import ConsumerSettings

STEPS = {
    "hotel": ["hotel.confirm", "hotel.cancel"],
    "flights": ["flights.confirm"],
    "sessions": ["sessions.complete", "sessions.cancelled"],
}


async def main(url: str, namespace: str, consumer: str) -> None:
    redis = Redis.from_url(url, decode_responses=True)

    async def effect(context: StepContext) -> Mapping[str, str]:
        # A provider that dedupes by idempotency key; the counter shows every call it received.
        await redis.hincrby(f"{namespace}:effects:calls", context.idempotency_key, 1)
        await redis.sadd(f"{namespace}:effects:applied", context.idempotency_key)
        await asyncio.sleep(0.002)  # keep batches in flight so the kill lands mid-batch
        return {"ref": context.idempotency_key}

    settings = ConsumerSettings(
        batch_size=10, block_ms=20, claim_idle_ms=300, claim_interval_s=0.1,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05),
    )  # fmt: skip
    participants = [
        Participant(
            redis,
            namespace=namespace,
            participant=name,
            consumer=consumer,
            handlers=dict.fromkeys(steps, effect),
            settings=settings,
        )
        for name, steps in STEPS.items()
    ]
    print("ready", flush=True)
    await asyncio.gather(*(p.run() for p in participants))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
