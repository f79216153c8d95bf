"""Polling with a deadline, never a bare sleep: the one way tests wait for something to happen."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tools.waiting import DEFAULT_TIMEOUT_SECONDS, abort_when, wait_for

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "eventually", "wait_for"]


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], timeout: float = DEFAULT_TIMEOUT_SECONDS,
    what: str = "the condition", interval: float = 0.02, abort_if: Callable[[], Any] | None = None,
) -> Any:  # fmt: skip
    """Await `check` (plain or async) until it returns something truthy, and return that.

    Unlike `wait_for`, an exception from `check` fails at once: in-process checks do not throw
    while a condition is merely not met yet. `abort_if` fails the wait at once when it holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        abort_when(abort_if, what, result)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {result!r})")
        await asyncio.sleep(interval)
