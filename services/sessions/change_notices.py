"""After a session transition commits: wake the outbox relay, and tell the session's watchers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bus.keys import BusKeys
from services.sessions.repository import Change

log = logging.getLogger(__name__)

# What a watcher (the gateway's event streams) learns from a notice: the session itself changed.
STATE_CHANGED = "state"


class ChangeNotices:
    """Publishes each changed session on its channel, a burst of commits in one pipeline."""

    def __init__(self, redis: Redis, keys: BusKeys, wake_relay: Callable[[], None]) -> None:
        self._redis = redis
        self._keys = keys
        self._wake_relay = wake_relay
        self._changed: set[str] = set()
        self._ready = asyncio.Event()
        self._stopping = False

    def committed(self, changes: Sequence[Change]) -> None:
        """Called after the commit, so the relay and the watchers see what was written."""
        if any(change.writes for change in changes):
            self._wake_relay()  # the transaction queued a saga in the outbox
        self._changed.update(change.session.id for change in changes)
        self._ready.set()

    def stop(self) -> None:
        self._stopping = True
        self._ready.set()

    async def run(self) -> None:
        while not self._stopping:
            await self._ready.wait()
            self._ready.clear()
            await self.publish_pending()

    async def publish_pending(self) -> int:
        """Publish what changed since the last call; returns how many sessions."""
        changed, self._changed = self._changed, set()
        if not changed:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for session_id in changed:
            pipe.publish(self._keys.session_changes(session_id), STATE_CHANGED)
        try:
            await pipe.execute()
        except (RedisError, OSError) as error:
            # A notice is a hint: a watcher that missed it re-reads at its next heartbeat.
            log.warning("could not tell watchers of %d sessions: %s", len(changed), error)
        return len(changed)
