"""Tokens already verified, each kept until it expires: a bounded LRU keyed by the exact token text."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Verified = TypeVar("Verified")


class VerifiedTokens(Generic[Verified]):
    """What verifying each token proved, until the token's own expiry; the least recently used goes first.

    Keyed by the whole token, signature included, so only the very string that verified is ever
    answered from here: a token differing in any character is verified afresh.
    """

    def __init__(self, capacity: int, clock: Callable[[], float]) -> None:
        if capacity < 1:
            raise ValueError("a token cache holds at least one token")
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[str, tuple[Verified, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Verified | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        verified, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return verified

    def put(self, token: str, verified: Verified, expires_at: float) -> None:
        """Keep `verified` for `token` until `expires_at` (seconds since the epoch), if still ahead."""
        if self._clock() >= expires_at:
            return
        self._entries[token] = (verified, expires_at)
        self._entries.move_to_end(token)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
