"""How many streams a process holds open, per customer and in total, and when to refuse one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamCaps:
    per_customer: int = 3
    total: int = 200
    # A refused client waits this long: a stream frees a slot when its session ends or it leaves.
    retry_after_seconds: int = 5

    def __post_init__(self) -> None:
        if self.per_customer < 1 or self.total < 1 or self.retry_after_seconds < 1:
            raise ValueError("stream caps and the retry delay must be at least 1")


class OpenStreams:
    """Slots for open streams; every `acquire` that succeeded is paired with one `release`."""

    def __init__(self, caps: StreamCaps, holder: str = "this gateway") -> None:
        self.caps = caps
        self.holder = holder
        self.total = 0
        self._by_customer: Counter[str] = Counter()

    def full(self) -> bool:
        return self.total >= self.caps.total

    def refusal(self, customer_id: str | None = None) -> str | None:
        """Why a new stream (for this customer, when known) would be refused, or None."""
        if self.full():
            return f"{self.holder} serves at most {self.caps.total} event streams at once"
        if customer_id is not None and self._by_customer[customer_id] >= self.caps.per_customer:
            return f"at most {self.caps.per_customer} event streams per customer at once"
        return None

    def acquire(self, customer_id: str) -> str | None:
        """Take a slot, or say why not."""
        refused = self.refusal(customer_id)
        if refused is None:
            self.total += 1
            self._by_customer[customer_id] += 1
        return refused

    def release(self, customer_id: str) -> None:
        self.total -= 1
        self._by_customer[customer_id] -= 1
        if self._by_customer[customer_id] <= 0:
            del self._by_customer[customer_id]

    def held_by(self, customer_id: str) -> int:
        return self._by_customer[customer_id]
