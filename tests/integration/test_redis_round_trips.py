"""Every client the Redis factory makes counts what it sends: one command, or one whole pipeline, each."""

from __future__ import annotations

from prometheus_client import REGISTRY

from kit.redis_connection import RedisSettings, redis_client, sync_redis_client


def round_trips() -> float:
    return REGISTRY.get_sample_value("travel_redis_round_trips_total") or 0.0


async def test_commands_and_pipelines_of_the_asyncio_client(redis_url: str, unique_id: str) -> None:
    client = redis_client(RedisSettings.checked(redis_url), decode_responses=True)
    key = f"round-trips:{unique_id}"
    try:
        await client.ping()  # connects first: the handshake's own commands are not measured below
        before = round_trips()
        await client.set(key, "1", ex=60)
        await client.get(key)
        pipe = client.pipeline(transaction=False)
        for _ in range(5):
            pipe.incr(key)
        await pipe.execute()
        async with client.pipeline(transaction=True) as multi:
            multi.incr(key).incr(key)
            await multi.execute()
        assert round_trips() - before == 4
    finally:
        await client.delete(key)
        await client.aclose()


def test_the_synchronous_client_counts_too(redis_url: str) -> None:
    with sync_redis_client(RedisSettings.checked(redis_url)) as client:
        client.ping()
        before = round_trips()
        client.ping()
        assert round_trips() - before == 1
