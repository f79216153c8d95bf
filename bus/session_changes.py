"""One Redis subscription per process, shared by every open session watch: a notice goes to its watches.

The sessions service publishes each committed transition, and the bus each saga history write, on
the session's change channel, as a numbered notice that carries the new timeline entries and state.
The sessions service subscribes to the channels of the sessions it is asked to watch, on one
connection, and queues each notice for every watch of its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from google.protobuf.message import DecodeError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from travel.sessions.v1 import sessions_pb2

from bus.keys import BusKeys
from bus.replies import text
from kit.redis_connection import pubsub_client

log = logging.getLogger(__name__)

# After a lost connection: every stream reads its session again, since notices may have been missed.
RECONNECT_PAUSE_SECONDS = 1.0
# How long a new stream waits for Redis to confirm its subscription before reading anyway.
CONFIRM_TIMEOUT_SECONDS = 5.0
# Notices a stream has not taken yet, at most: past that (a client that stopped reading) they are
# dropped and the stream reads the session again when it next looks.
MAX_QUEUED_NOTICES = 256
# What a stream is told when notices may have been lost: read the session again.
READ_AGAIN = sessions_pb2.SessionNotice(read_again=True)


def parsed_notice(payload: bytes) -> sessions_pb2.SessionNotice:
    """A channel's message as a notice; one that is not a notice only says to read again."""
    try:
        return sessions_pb2.SessionNotice.FromString(payload)
    except DecodeError:
        return READ_AGAIN


class ChangeWatch:
    """What one event stream waits on: the notices of its session, in the order they came."""

    def __init__(
        self, changes: SessionChanges | None = None, channel: str = "", session_id: str = ""
    ) -> None:
        self._changes = changes
        self._channel = channel
        self._session_id = session_id
        self._notices: deque[sessions_pb2.SessionNotice] = deque()
        self._arrived = asyncio.Event()

    def notify(self, notice: sessions_pb2.SessionNotice) -> None:
        if len(self._notices) >= MAX_QUEUED_NOTICES:
            self._notices.clear()
            notice = READ_AGAIN
        self._notices.append(notice)
        self._arrived.set()

    async def take(self, timeout: float) -> list[sessions_pb2.SessionNotice]:
        """The notices that came (now or within `timeout` seconds), oldest first; [] if none did."""
        if not self._notices:
            try:
                async with asyncio.timeout(timeout):
                    await self._arrived.wait()
            except TimeoutError:
                return []
        self._arrived.clear()
        taken = list(self._notices)
        self._notices.clear()
        return taken

    async def subscribed(self) -> None:
        """Until Redis confirmed the subscription (or a short while passed): notices from then on arrive."""
        if self._changes is not None:
            await self._changes.confirmed(self._channel)

    async def published(self) -> int:
        """How many counted notices the session's channel carried so far; read before the session,
        every notice numbered up to it is in what the read returns."""
        if self._changes is None:
            return 0
        return await self._changes.published(self._session_id)

    def close(self) -> None:
        """Stop watching; synchronous, so it also works from a stream being cancelled."""
        if self._changes is not None:
            self._changes.forget(self._channel, self)
            self._changes = None


class SessionChanges:
    """Subscribes to the change channel of every watched session, and wakes their watches."""

    def __init__(self, redis: Redis, keys: BusKeys) -> None:
        """`redis` answers bytes (a notice is a serialized message) and has no socket timeout: the
        subscription's connection waits for notices as long as it takes."""
        self._redis = redis
        self._keys = keys
        self._pubsub = pubsub_client(redis).pubsub()
        self._watches: dict[str, set[ChangeWatch]] = {}
        self._confirmations: dict[str, asyncio.Event] = {}
        self._asked: set[str] = set()  # channels SUBSCRIBE was sent for
        self._dirty = asyncio.Event()
        self._has_channels = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def watch(self, session_id: str) -> ChangeWatch:
        """A watch of one session; ValueError when no channel can carry the id."""
        channel = self._keys.session_changes(session_id)
        watch = ChangeWatch(self, channel, session_id)
        self._watches.setdefault(channel, set()).add(watch)
        self._confirmations.setdefault(channel, asyncio.Event())
        self._dirty.set()
        return watch

    async def published(self, session_id: str) -> int:
        count = await self._redis.get(self._keys.session_notices(session_id))
        return int(count or 0)

    def forget(self, channel: str, watch: ChangeWatch) -> None:
        watches = self._watches.get(channel)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[channel]
                self._dirty.set()

    async def confirmed(self, channel: str) -> None:
        confirmation = self._confirmations.get(channel)
        if confirmation is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CONFIRM_TIMEOUT_SECONDS):
                    await confirmation.wait()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_subscriptions(), name="session-changes-subscriptions"),
            asyncio.create_task(self._read_notices(), name="session-changes-notices"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._pubsub.aclose()

    async def _keep_subscriptions(self) -> None:
        """Brings the subscribed channels in line with the watched ones, in the order asked."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            wanted = set(self._watches)
            gone, new = self._asked - wanted, wanted - self._asked
            try:
                if gone:
                    await self._pubsub.unsubscribe(*gone)
                    self._asked -= gone
                    for channel in gone:
                        self._confirmations.pop(channel, None)
                if new:
                    await self._pubsub.subscribe(*new)
                    self._asked |= new
                    self._watch_reconnects()
                    self._has_channels.set()
            except (RedisError, OSError) as error:
                log.warning("event stream subscriptions paused: %s", error)
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                self._dirty.set()

    async def _read_notices(self) -> None:
        while True:
            self._has_channels.clear()
            if not self._pubsub.subscribed:
                await self._has_channels.wait()
                continue
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (RedisError, OSError) as error:
                log.warning("event stream notices paused: %s", error)
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = text(message["channel"])
        if message["type"] == "message":
            watches = self._watches.get(channel, ())
            if watches:
                notice = parsed_notice(message["data"])  # parsed once for all the session's streams
                for watch in watches:
                    watch.notify(notice)
        elif message["type"] == "subscribe" and channel in self._confirmations:
            self._confirmations[channel].set()

    def _watch_reconnects(self) -> None:
        connection = self._pubsub.connection
        if connection is not None:
            connection.register_connect_callback(self._reconnected)

    def _reconnected(self, _connection: object) -> None:
        """Notices sent while the connection was down are lost: every stream reads again."""
        for watches in self._watches.values():
            for watch in watches:
                watch.notify(READ_AGAIN)
