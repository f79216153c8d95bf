"""Watches the bus's dead-letter streams: a session whose saga dead-lettered shows NEEDS_ATTENTION."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bus.keys import BusKeys
from bus.replies import group_lost
from bus.stoppable import StoppableWait
from kit.errors import DomainError, TransientError
from kit.redis_connection import blocking_reader, is_transient
from services.sessions.domain import Session

log = logging.getLogger(__name__)
GROUP = "sessions-attention"
# Dead letters are rare: wait long in Redis (below the reader's socket timeout); stop() cuts it short.
BLOCK_MS = 60_000
READ_TIMEOUT_S = BLOCK_MS / 1000 + 5


class AttentionArbiter(Protocol):
    """What the watcher needs of the arbiter (services.sessions.arbiter.Arbiter is one)."""

    async def needs_attention(self, session_id: str) -> Session: ...


class DeadLetterWatcher:
    """One loop per partition's dead-letter stream, each blocked in Redis until a letter arrives."""

    def __init__(self, redis: Redis, keys: BusKeys, arbiter: AttentionArbiter, consumer: str) -> None:
        self._redis = redis
        self._keys = keys
        self._arbiter = arbiter
        self._consumer = consumer
        self._stopping = False
        self._reads = [StoppableWait() for _ in keys.all_partitions()]

    def stop(self) -> None:
        self._stopping = True
        for reads in self._reads:
            reads.stop()

    async def _ensure_group(self, stream: str) -> None:
        try:
            await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def run(self) -> None:
        async with asyncio.TaskGroup() as loops:
            for partition in self._keys.all_partitions():
                loops.create_task(self._watch(partition))

    async def _watch(self, partition: int) -> None:
        # A blocking read holds its connection while it waits, and a read cut short by stop() must
        # not share a pool with the others: a client of its own.
        reader = blocking_reader(self._redis, READ_TIMEOUT_S)
        try:
            await self._watch_with(reader, partition)
        finally:
            await reader.aclose()

    async def _watch_with(self, reader: Redis, partition: int) -> None:
        stream = self._keys.dead_letters(partition)
        group_missing = True
        cursor = "0"  # our own pending entries first, then new ones
        while not self._stopping:
            try:
                if group_missing:
                    await self._ensure_group(stream)
                    group_missing = False
                cursor = await self._handle_next(reader, partition, stream, cursor)
            except Exception as error:
                if self._stopping:
                    return  # an error met on the way out after stop(): nothing more to do
                if isinstance(error, ResponseError) and group_lost(error):
                    group_missing, cursor = True, "0"
                    continue
                if not (is_transient(error) or isinstance(error, RedisError)):
                    raise
                log.warning("dead-letter watcher paused: %s", error)
                await asyncio.sleep(0.5)

    async def _handle_next(self, reader: Redis, partition: int, stream: str, cursor: str) -> str:
        """Flag the sessions of the next dead letters; answers the cursor to read from next."""
        reply = await self._read(reader, partition, stream, cursor)
        entries = [entry for _, stream_entries in reply or [] for entry in stream_entries]
        if cursor == "0" and not entries:
            return ">"
        for entry_id, fields in entries:
            if await self.flag(fields):
                await self._redis.xack(stream, GROUP, entry_id)
        return cursor

    async def _read(self, reader: Redis, partition: int, stream: str, cursor: str) -> Any:
        """The next dead letters; None when stop() cut the wait short (they stay pending)."""
        streams: dict[Any, Any] = {stream: cursor}
        return await self._reads[partition].wait(
            lambda: reader.xreadgroup(GROUP, self._consumer, streams, count=50, block=BLOCK_MS)
        )

    async def flag(self, fields: dict[str, str]) -> bool:
        """Flag the session of one dead letter: True when the entry may be acknowledged, False to
        read it again later (the arbiter was briefly unavailable)."""
        session_id = fields.get("session_id", "")
        if not session_id:
            return True
        try:
            session = await self._arbiter.needs_attention(session_id)
            log.warning("session %s needs attention: %s", session_id, fields.get("error", ""))
            return session is not None
        except DomainError as error:
            log.warning("dead letter for session %s: %s", session_id, error)
            return True
        except TransientError:
            return False
