"""WatchSession's adapters: the stream caps, the shared change subscription and the session reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import RedisError
from travel.sessions.v1 import sessions_pb2 as pb

from bus.session_changes import ChangeWatch, SessionChanges
from kit.errors import DependencyUnavailable, ResourceExhausted
from kit.open_streams import OpenStreams, StreamCaps
from services.sessions.events import SessionTimeline
from services.sessions.messages import session_message
from services.sessions.watch import Snapshot, watch_responses

# A count read that takes longer than this fails the read, which is tried again a moment later.
COUNT_TIMEOUT_SECONDS = 5.0


@dataclass
class OwnedSessionReads:
    """Reads one customer's session with its timeline, and the notice count the read covers."""

    timeline: SessionTimeline
    watch: ChangeWatch
    session_id: str
    customer_id: str

    async def read(self) -> Snapshot:
        # The count first: a notice counted before it describes a change the read already sees.
        try:
            async with asyncio.timeout(COUNT_TIMEOUT_SECONDS):
                covered = await self.watch.published()
        except (RedisError, OSError, TimeoutError) as error:
            raise DependencyUnavailable(f"change notices are unavailable: {error}") from error
        session, events = await self.timeline.owned(self.session_id, self.customer_id)
        return Snapshot(session_message(session), events, covered)


class SessionWatches:
    """Opens watches within the caps, each on the process's one subscription to change channels."""

    def __init__(self, changes: SessionChanges, timeline: SessionTimeline, caps: StreamCaps) -> None:
        self._changes = changes
        self._timeline = timeline
        self._streams = OpenStreams(caps, holder="this sessions server")

    @property
    def open_streams(self) -> OpenStreams:
        return self._streams

    async def watch(
        self, session_id: str, customer_id: str, after_sequence: int
    ) -> AsyncIterator[pb.WatchSessionResponse]:
        # Refused before any read: a full server spends nothing on a new watch.
        refused = self._streams.acquire(customer_id)
        if refused is not None:
            raise ResourceExhausted(refused, retry_after_seconds=self._streams.caps.retry_after_seconds)
        try:
            watch = self._changes.watch(session_id)
            try:
                # Listening first, then the first read: a change in between is not missed.
                await watch.subscribed()
                reads = OwnedSessionReads(self._timeline, watch, session_id, customer_id)
                first = await reads.read()
                async for response in watch_responses(reads, watch, first, after_sequence):
                    yield response
            finally:
                watch.close()
        finally:
            self._streams.release(customer_id)
