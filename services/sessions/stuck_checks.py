"""After a commit that queued sagas: book a stuck check of the session, due when the bound runs out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from redis.exceptions import RedisError

from bus.ports import CheckSchedule
from services.sessions.ports import Change

log = logging.getLogger(__name__)


class StuckCheckBooking:
    """Collects the sessions whose commits started sagas, and books their checks in one call per burst."""

    def __init__(
        self,
        schedule: CheckSchedule,
        bound: timedelta,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._schedule = schedule
        self._bound_ms = int(bound.total_seconds() * 1000)
        self._clock_ms = clock_ms
        self._due: dict[str, int] = {}
        self._ready = asyncio.Event()
        self._stopping = False

    def committed(self, changes: Sequence[Change]) -> None:
        """Called after the commit: a change with writes queued a saga in the outbox."""
        due = self._clock_ms() + self._bound_ms
        for change in changes:
            if change.writes:
                self._due[change.session.id] = due
                self._ready.set()

    def stop(self) -> None:
        self._stopping = True
        self._ready.set()

    async def run(self) -> None:
        while not self._stopping:
            await self._ready.wait()
            self._ready.clear()
            await self.book_pending()

    async def book_pending(self) -> int:
        due, self._due = self._due, {}
        if not due:
            return 0
        try:
            # A check the session already has, for an earlier saga, stays: that saga's bound runs first.
            await self._schedule.schedule_many(due, keep_earlier=True)
        except (RedisError, OSError) as error:
            # Lost bookings leave those sagas unwatched; a saga already booked keeps its own checks.
            log.warning("could not book stuck checks of %d sessions: %s", len(due), error)
        return len(due)
