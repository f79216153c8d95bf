"""In-memory deadline schedule: due deadlines claimed under a lease, as the Redis sorted sets do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence


def _by_score(members: dict[str, int], upto_ms: int, limit: int) -> list[str]:
    """ZRANGEBYSCORE -inf upto LIMIT 0 limit: by score, then by member."""
    found = sorted((score, member) for member, score in members.items() if score <= upto_ms)
    return [member for _, member in found[:limit]]


class FakeDeadlineSchedule:
    def __init__(self) -> None:
        self.deadlines: dict[str, int] = {}
        self.leases: dict[str, int] = {}
        self._watchers: list[Callable[[int], None]] = []

    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        await self.schedule_many({session_id: deadline_ms})

    async def schedule_many(self, deadlines: dict[str, int]) -> None:
        if not deadlines:
            return
        head = min(self.deadlines.values(), default=None)
        self.deadlines.update(deadlines)
        earliest = min(deadlines.values())
        if head is None or earliest < head:
            for earlier in list(self._watchers):
                earlier(earliest)

    async def claim_due(self, now_ms: int, lease_until_ms: int, limit: int) -> list[str]:
        # Both ranges are read before either moves, as in the claim script.
        due = _by_score(self.deadlines, now_ms, limit)
        stale = _by_score(self.leases, now_ms, limit)
        for member in due:
            del self.deadlines[member]
            self.leases[member] = lease_until_ms
        for member in stale:
            self.leases[member] = lease_until_ms
        return due + stale

    async def release(self, session_ids: Sequence[str]) -> None:
        for session_id in session_ids:
            self.leases.pop(session_id, None)

    async def next_due_ms(self) -> int | None:
        heads = [min(found.values()) for found in (self.deadlines, self.leases) if found]
        return min(heads, default=None)

    async def watch_earlier(self, earlier: Callable[[int], None]) -> None:
        self._watchers.append(earlier)
        try:
            await asyncio.Event().wait()
        finally:
            self._watchers.remove(earlier)

    async def pending(self) -> int:
        return len(self.deadlines) + len(self.leases)
