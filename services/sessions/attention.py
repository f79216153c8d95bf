"""Watches the bus's dead-letter stream: a session whose saga dead-lettered shows NEEDS_ATTENTION."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bus.keys import BusKeys
from bus.stoppable import StoppableWait
from services.kit.errors import DomainError, TransientError
from services.sessions.domain import Session

log = logging.getLogger(__name__)
GROUP = "sessions-attention"
# Dead letters are rare: wait long in Redis (below the client's socket timeout); stop() cuts it short.
BLOCK_MS = 5_000


class AttentionArbiter(Protocol):
    """What the watcher needs of the arbiter (services.sessions.arbiter.Arbiter is one)."""

    async def needs_attention(self, session_id: str) -> Session: ...


class DeadLetterWatcher:
    def __init__(self, redis: Redis, keys: BusKeys, arbiter: AttentionArbiter, consumer: str) -> None:
        self._redis = redis
        self._stream = keys.dead_letters()
        self._arbiter = arbiter
        self._consumer = consumer
        self._stopping = False
        self._reads = StoppableWait()

    def stop(self) -> None:
        self._stopping = True
        self._reads.stop()

    async def _ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def run(self) -> None:
        await self._ensure_group()
        cursor = "0"  # our own pending entries first, then new ones
        while not self._stopping:
            try:
                reply = await self._read(cursor)
            except ResponseError as error:
                if "NOGROUP" in str(error):
                    await self._ensure_group()
                    continue
                raise
            except (RedisError, OSError) as error:
                log.warning("dead-letter watcher paused: %s", error)
                await asyncio.sleep(0.5)
                continue
            entries = [entry for _, stream_entries in reply or [] for entry in stream_entries]
            if cursor == "0" and not entries:
                cursor = ">"
                continue
            for entry_id, fields in entries:
                if await self.flag(fields):
                    await self._redis.xack(self._stream, GROUP, entry_id)

    async def _read(self, cursor: str) -> Any:
        """The next dead letters; None when stop() cut the wait short (they stay pending)."""
        streams: dict[Any, Any] = {self._stream: cursor}
        return await self._reads.wait(
            lambda: self._redis.xreadgroup(GROUP, self._consumer, streams, count=50, block=BLOCK_MS)
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
