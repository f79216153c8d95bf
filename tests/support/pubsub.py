"""Waiting for the next message on a Redis pub/sub channel, with a deadline."""

from __future__ import annotations

from redis.asyncio.client import PubSub

from tests.support.polling import DEFAULT_TIMEOUT_SECONDS, eventually


async def next_message(
    pubsub: PubSub,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    what: str = "a message on the channel",
    ignore_subscribe_messages: bool = False,
) -> str:
    """The data of the next message `pubsub` receives; fails after `timeout` seconds without one."""
    message = await eventually(
        # Each call blocks up to half a second for a message, so the poll itself waits, not a sleep.
        lambda: pubsub.get_message(ignore_subscribe_messages=ignore_subscribe_messages, timeout=0.5),
        timeout=timeout,
        what=what,
        interval=0,
    )
    return str(message["data"])
