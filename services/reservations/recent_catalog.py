"""Catalog entries a search just returned, kept briefly: reserving one asks the provider once less."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from cachetools import TTLCache

# A customer reserves within a minute or two of searching; a catalog entry's name, place and times
# do not change in that span. The price is never taken from here: it comes from the hold.
KEPT_SECONDS = 120.0
KEPT_ENTRIES = 20_000


class RecentCatalog:
    """Entries by id from this process's recent searches; a miss means: ask the provider."""

    def __init__(
        self,
        seconds: float = KEPT_SECONDS,
        capacity: int = KEPT_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=capacity, ttl=seconds, timer=clock)

    def remember(self, entries: Iterable[dict[str, Any]]) -> None:
        for entry in entries:
            entry_id = entry.get("id")
            if isinstance(entry_id, str):
                self._entries[entry_id] = entry

    def get(self, entry_id: str) -> dict[str, Any] | None:
        return self._entries.get(entry_id)
