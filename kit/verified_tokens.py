"""Tokens already verified, each kept until it expires: a bounded LRU keyed by the exact token text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from cachetools import TLRUCache

Verified = TypeVar("Verified")


def _expiry(_token: str, entry: tuple[object, float], _now: float) -> float:
    return entry[1]


class VerifiedTokens(Generic[Verified]):
    """What verifying each token proved, until the token's own expiry; the least recently used goes first.

    Keyed by the whole token, signature included, so only the very string that verified is ever
    answered from here: a token differing in any character is verified afresh.
    """

    def __init__(self, capacity: int, clock: Callable[[], float]) -> None:
        if capacity < 1:
            raise ValueError("a token cache holds at least one token")
        self._entries: TLRUCache[str, tuple[Verified, float]] = TLRUCache(
            maxsize=capacity, ttu=_expiry, timer=clock
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Verified | None:
        entry = self._entries.get(token)
        return None if entry is None else entry[0]

    def put(self, token: str, verified: Verified, expires_at: float) -> None:
        """Keep `verified` for `token` until `expires_at` (seconds since the epoch), if still ahead."""
        self._entries[token] = (verified, expires_at)
