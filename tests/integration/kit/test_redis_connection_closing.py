"""A command sent on a connection another task is closing fails as a lost connection, whatever the
moment, so callers that retry a lost connection (the cluster client among them) retry it too."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from kit.redis_connection import RedisSettings, redis_client

# asyncio runs ready tasks in order, so each count of yields before the send lands it at another
# point of the close: before the socket closes, while it closes, and after (when it reconnects).
MOMENTS = range(6)


@pytest.mark.parametrize("yields", MOMENTS)
async def test_a_send_during_a_close_is_sent_or_fails_as_a_lost_connection(
    redis_url: str, yields: int
) -> None:
    # The processes' clients have a socket timeout: redis-py then writes from a task of its own.
    client = redis_client(RedisSettings.checked(redis_url), socket_timeout=5)
    connection = client.connection_pool.make_connection()
    try:
        await connection.connect()
        closing = asyncio.create_task(connection.disconnect())
        for _ in range(yields):
            await asyncio.sleep(0)
        try:
            await connection.send_packed_command(connection.pack_command("PING"))
            assert await connection.read_response() in (b"PONG", "PONG")
        except RedisConnectionError:
            pass
        await closing
    finally:
        await connection.disconnect()
        await client.aclose()
