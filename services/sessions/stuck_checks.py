"""After a commit that queued sagas: book a stuck check of the session, due when the bound runs out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from redis.exceptions import RedisError

from bus.ports import CheckSchedule
from kit.redis_scripts import ScriptRun
from services.sessions.ports import Change

log = logging.getLogger(__name__)


class BatchedCheckSchedule(CheckSchedule, Protocol):
    """A check schedule whose bookings can go in a pipeline with other script calls."""

    def schedule_runs(self, deadlines: dict[str, int], keep_earlier: bool = False) -> list[ScriptRun]: ...


class StuckCheckBooking:
    """Collects the sessions whose commits started sagas, and books their checks in one call per burst:
    on its own (`run`), or in the pipeline of the burst's change notices (`runs`)."""

    def __init__(
        self,
        schedule: BatchedCheckSchedule,
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

    def runs(self) -> list[ScriptRun]:
        """The script calls booking the checks collected since the last call, for another pipeline;
        give their answers to `booked`."""
        due, self._due = self._due, {}
        # A check the session already has, for an earlier saga, stays: that saga's bound runs first.
        return self._schedule.schedule_runs(due, keep_earlier=True) if due else []

    def booked(self, answers: Sequence[Any]) -> None:
        """The answers of `runs`' calls: a lost booking leaves its saga unwatched, so it is logged."""
        failed = [answer for answer in answers if isinstance(answer, Exception)]
        if failed:
            log.warning("could not book stuck checks in %d partitions: %s", len(failed), failed[0])

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
