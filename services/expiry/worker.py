"""The expiry loop: claim due deadlines, ask the arbiter to expire each, forget them once answered.

Between sweeps the worker sleeps until the next deadline (or lease) falls due, or until a deadline
earlier than that one is scheduled; it never ticks on a short timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from redis.exceptions import RedisError

from bus.ports import DueDeadlines
from kit.errors import DomainError, TransientError
from services.expiry.policy import ClaimPolicy

log = logging.getLogger(__name__)

# Asks the arbiter to expire a batch of sessions; returns how many expired now.
ExpirePort = Callable[[Sequence[str]], Awaitable[int]]

RETRY_DELAY_MS = 1000
# Deadlines due within this much of the previous sweep wait for one another: one sweep, one batch.
BATCH_WINDOW_MS = 50
# The longest sleep: a safety net should a notice of an earlier deadline be lost.
LONGEST_SLEEP_SECONDS = 30.0
REDIS_PAUSE_MS = 500


class ExpiryWorker:
    def __init__(
        self,
        schedule: DueDeadlines,
        expire: ExpirePort,
        policy: ClaimPolicy,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        concurrency: int = 4,
        chunk: int = 100,
    ) -> None:
        self._schedule = schedule
        self._expire = expire
        self._policy = policy
        self._clock_ms = clock_ms
        self._limit = asyncio.Semaphore(concurrency)
        self._chunk = chunk
        self._stopping = False
        self._woken = asyncio.Event()
        self._sleeping_until_ms: int | None = None
        self.expired = 0

    def stop(self) -> None:
        self._stopping = True
        self._woken.set()

    def deadline_added(self, deadline_ms: int) -> None:
        """A deadline earlier than all others was scheduled: wake if asleep past it."""
        if self._sleeping_until_ms is None or deadline_ms < self._sleeping_until_ms:
            self._woken.set()

    async def sweep_once(self) -> int:
        """One claim-and-expire pass; returns how many deadlines it handled."""
        now = self._clock_ms()
        claimed = await self._schedule.claim_due(
            now, self._policy.lease_until_ms(now), self._policy.batch_size
        )
        if not claimed:
            return 0
        chunks = [claimed[i : i + self._chunk] for i in range(0, len(claimed), self._chunk)]
        answered = await asyncio.gather(*(self._expire_chunk(chunk) for chunk in chunks))
        retry = [sid for chunk, ok in zip(chunks, answered, strict=True) if not ok for sid in chunk]
        if retry:
            # The arbiter could not answer: try again shortly, not after the whole lease.
            await self._schedule.schedule_many({sid: now + RETRY_DELAY_MS for sid in retry})
        await self._schedule.release(claimed)
        return len(claimed)

    async def _expire_chunk(self, session_ids: list[str]) -> bool:
        async with self._limit:
            try:
                self.expired += await self._expire(session_ids)
                return True
            except DomainError as error:
                log.warning("arbiter refused an expiry batch: %s", error)
                return True
            except TransientError as error:
                log.warning("arbiter unavailable for %d sessions: %s", len(session_ids), error)
                return False

    async def run(self) -> None:
        watching = asyncio.create_task(self._schedule.watch_earlier(self.deadline_added))
        try:
            while not self._stopping:
                # Cleared before the sweep: a notice that lands during it wakes the next one.
                self._woken.clear()
                swept_at = self._clock_ms()
                try:
                    if await self.sweep_once() >= self._policy.batch_size:
                        continue  # more may be due right now
                    wake_at = await self._schedule.next_due_ms()
                except (OSError, RedisError) as error:
                    log.warning("redis unavailable: %s", error)
                    wake_at = swept_at + REDIS_PAUSE_MS
                await self._sleep_until(None if wake_at is None else max(wake_at, swept_at + BATCH_WINDOW_MS))
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    async def _sleep_until(self, wake_at_ms: int | None) -> None:
        """Until `wake_at_ms` (at most the longest sleep), an earlier deadline's notice, or stop()."""
        longest_ms = int(LONGEST_SLEEP_SECONDS * 1000)
        now = self._clock_ms()
        delay_ms = longest_ms if wake_at_ms is None else min(longest_ms, wake_at_ms - now)
        if delay_ms <= 0:
            return
        self._sleeping_until_ms = now + delay_ms
        try:
            async with asyncio.timeout(delay_ms / 1000):
                await self._woken.wait()
        except TimeoutError:
            pass
        finally:
            self._sleeping_until_ms = None
