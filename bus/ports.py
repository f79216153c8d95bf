"""The bus's timers as the services see them: book deadlines, and claim those that fall due."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class DeadlineScheduler(Protocol):
    """Adds or moves session deadlines (epoch milliseconds); scheduling a session again moves it."""

    async def schedule(self, session_id: str, deadline_ms: int) -> None: ...

    async def schedule_many(self, deadlines: dict[str, int]) -> None: ...


class DueDeadlines(DeadlineScheduler, Protocol):
    """Claims due deadlines under a lease, so that no two workers act on one at the same time."""

    async def claim_due(self, now_ms: int, lease_until_ms: int, limit: int) -> list[str]:
        """Deadlines due at `now_ms`, and leases run out by then, leased until `lease_until_ms`.

        At most `limit` of each kind, the earliest first, whatever the schedule is split into.
        """
        ...

    async def release(self, session_ids: Sequence[str]) -> None:
        """Forget claimed deadlines once they are dealt with."""
        ...

    async def next_due_ms(self) -> int | None:
        """When the next deadline or lease falls due; None when there is none."""
        ...

    async def watch_earlier(self, earlier: Callable[[int], None]) -> None:
        """Call `earlier(deadline_ms)` for each deadline scheduled before all others, until cancelled.

        It may also tell of a deadline that is not: a partitioned schedule compares a new deadline
        with those of its own partition only. A listener wakes only for one before its planned wake.
        """
        ...

    async def pending(self) -> int:
        """Deadlines waiting or claimed."""
        ...


class CheckSchedule(Protocol):
    """Where stuck checks wait: a deadline schedule that can keep a check already booked earlier."""

    async def schedule_many(self, deadlines: dict[str, int], keep_earlier: bool = False) -> None: ...
