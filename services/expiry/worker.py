"""The expiry loop: claim due deadlines, ask the arbiter to expire each, forget them once answered."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from services.expiry.policy import ExpiryPolicy
from services.expiry.schedule import DeadlineSchedule
from services.kit.errors import DomainError, TransientError

log = logging.getLogger(__name__)

# Asks the arbiter to expire a session; True if it expired now.
ExpirePort = Callable[[str], Awaitable[bool]]

IDLE_POLL_SECONDS = 0.05
RETRY_DELAY_MS = 1000


class ExpiryWorker:
    def __init__(
        self,
        schedule: DeadlineSchedule,
        expire: ExpirePort,
        policy: ExpiryPolicy,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        concurrency: int = 32,
    ) -> None:
        self._schedule = schedule
        self._expire = expire
        self._policy = policy
        self._clock_ms = clock_ms
        self._limit = asyncio.Semaphore(concurrency)
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
        outcomes = await asyncio.gather(*(self._expire_one(session_id) for session_id in claimed))
        answered = [sid for sid, ok in zip(claimed, outcomes, strict=True) if ok]
        retry = [sid for sid, ok in zip(claimed, outcomes, strict=True) if not ok]
        await self._schedule.release(answered)
        if retry:
            # The arbiter could not answer: try again shortly, not after the whole lease.
            await self._schedule.schedule_many({sid: now + RETRY_DELAY_MS for sid in retry})
            await self._schedule.release(retry)
        return len(claimed)

    async def _expire_one(self, session_id: str) -> bool:
        async with self._limit:
            try:
                if await self._expire(session_id):
                    self.expired += 1
                return True
            except DomainError as error:
                log.info("session %s not expired: %s", session_id, error)
                return True
            except TransientError as error:
                log.warning("arbiter unavailable for %s: %s", session_id, error)
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
