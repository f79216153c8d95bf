"""Polling with a deadline, never a bare sleep: the one way tests wait for something to happen."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 15.0


def wait_for(
    check: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT_SECONDS, what: str = "the condition",
    interval: float = 0.1, abort_if: Callable[[], Any] | None = None,
) -> Any:  # fmt: skip
    """Call `check` until it returns something truthy, and return that; fail after `timeout` seconds.

    An exception from `check` counts as not yet (a system starting up answers with all kinds of
    errors); the last one is named in the failure. `abort_if` (say, "the process exited") fails the
    wait at once when it holds, since the condition can no longer come true.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as error:
            last = error
        _abort_when(abort_if, what, last)
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


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
        _abort_when(abort_if, what, result)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {result!r})")
        await asyncio.sleep(interval)


def _abort_when(abort_if: Callable[[], Any] | None, what: str, last: Any) -> None:
    if abort_if is not None and (reason := abort_if()):
        raise AssertionError(f"gave up waiting for {what}: {reason!r} (last: {last!r})")
