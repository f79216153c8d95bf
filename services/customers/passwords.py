"""argon2id password hashing, off the event loop because it is slow on purpose, and under a bound."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from kit.error_reasons import ErrorReason
from kit.errors import ResourceExhausted

T = TypeVar("T")


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 1


@dataclass(frozen=True)
class HashingBound:
    """At most `running` hashes at once (each holds `memory_kib`), `waiting` more queued, then refusal."""

    running: int = 2
    waiting: int = 64

    def __post_init__(self) -> None:
        if self.running < 1 or self.waiting < 0:
            raise ValueError("hashing needs at least one running slot and a non-negative queue")


class BoundedThreads:
    """Runs blocking work on `running` threads with at most `waiting` more queued; refuses the rest."""

    def __init__(self, bound: HashingBound) -> None:
        self._bound = bound
        # The pool's size is the semaphore: no more than `running` jobs hold their memory at once.
        self._pool = ThreadPoolExecutor(max_workers=bound.running, thread_name_prefix="argon2")
        self.in_flight = 0

    async def run(self, work: Callable[..., T], *args: object) -> T:
        if self.in_flight >= self._bound.running + self._bound.waiting:
            raise ResourceExhausted(
                "too many password checks are waiting; try again shortly",
                retry_after_seconds=1,
                subject="password hashing",
                reason=ErrorReason.OVERLOADED,
            )
        loop = asyncio.get_running_loop()
        self.in_flight += 1
        job: Future[T] = self._pool.submit(work, *args)
        # Counted until the thread is done, not until the caller stops waiting: a cancelled call's
        # job still runs and still holds its memory.
        job.add_done_callback(lambda _: self._finished_in(loop))
        return await asyncio.wrap_future(job)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _finished_in(self, loop: asyncio.AbstractEventLoop) -> None:
        # A closed loop means the process is stopping, and nobody counts any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._finished)

    def _finished(self) -> None:
        self.in_flight -= 1


class PasswordHashing:
    def __init__(self, parameters: Argon2Parameters, bound: HashingBound | None = None) -> None:
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        self._threads = BoundedThreads(bound or HashingBound())

    async def hash(self, password: str) -> str:
        return await self._threads.run(self._hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await self._threads.run(check)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def close(self) -> None:
        self._threads.close()
