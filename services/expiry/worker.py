"""The expiry loop: claim due deadlines, ask the arbiter to expire each, forget them once answered."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from redis.exceptions import RedisError

from services.expiry.policy import ExpiryPolicy
from services.expiry.schedule import DeadlineSchedule
from services.kit.errors import DomainError, TransientError

log = logging.getLogger(__name__)

# Asks the arbiter to expire a batch of sessions; returns how many expired now.
ExpirePort = Callable[[Sequence[str]], Awaitable[int]]

IDLE_POLL_SECONDS = 0.05
RETRY_DELAY_MS = 1000


class ExpiryWorker:
    def __init__(
        self,
        schedule: DeadlineSchedule,
        expire: ExpirePort,
        policy: ExpiryPolicy,
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
        self.expired = 0

    def stop(self) -> None:
        self._stopping = True

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
        while not self._stopping:
            try:
                handled = await self.sweep_once()
            except (OSError, RedisError) as error:
                log.warning("redis unavailable: %s", error)
                handled = 0
                await asyncio.sleep(0.5)
            if handled < self._policy.batch_size:
                await asyncio.sleep(IDLE_POLL_SECONDS)
