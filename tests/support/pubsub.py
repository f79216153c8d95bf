"""Waiting for the next message on a Redis pub/sub channel, with a deadline; session notices read back."""

from __future__ import annotations

from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from travel.sessions.v1 import sessions_pb2

from kit.redis_connection import pubsub_client
from tests.support.polling import DEFAULT_TIMEOUT_SECONDS, eventually


async def _next(pubsub: PubSub, timeout: float, what: str, ignore_subscribe_messages: bool) -> Any:
    return await eventually(
        # Each call blocks up to half a second for a message, so the poll itself waits, not a sleep.
        lambda: pubsub.get_message(ignore_subscribe_messages=ignore_subscribe_messages, timeout=0.5),
        timeout=timeout,
        what=what,
        interval=0,
    )


async def next_message(
    pubsub: PubSub,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    what: str = "a message on the channel",
    ignore_subscribe_messages: bool = False,
) -> str:
    """The data of the next message `pubsub` receives; fails after `timeout` seconds without one."""
    message = await _next(pubsub, timeout, what, ignore_subscribe_messages)
    return str(message["data"])


async def next_notice(
    pubsub: PubSub, timeout: float = DEFAULT_TIMEOUT_SECONDS, what: str = "a session notice"
) -> sessions_pb2.SessionNotice:
    """The next notice on a session's change channel; `pubsub` must come from a client answering bytes."""
    message = await _next(pubsub, timeout, what, ignore_subscribe_messages=True)
    return sessions_pb2.SessionNotice.FromString(message["data"])


def bytes_client_like(client: Redis) -> Redis:
    """A plain client of `client`'s server (of a cluster, one node) answering bytes, to read notices:
    a notice is a serialized protobuf message, which a client decoding text refuses."""
    plain = pubsub_client(client)
    pool = plain.connection_pool
    options = {**pool.connection_kwargs, "decode_responses": False}
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **options))
