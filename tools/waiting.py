"""Waiting with a deadline, never a bare sleep: for scripts and tests that start real servers."""

from __future__ import annotations

import time
from collections.abc import Callable
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
        abort_when(abort_if, what, last)
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def abort_when(abort_if: Callable[[], Any] | None, what: str, last: Any) -> None:
    """Fail the wait for `what` at once when `abort_if` names a reason it can no longer succeed."""
    if abort_if is not None and (reason := abort_if()):
        raise AssertionError(f"gave up waiting for {what}: {reason!r} (last: {last!r})")
