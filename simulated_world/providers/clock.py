"""The provider clock: real time plus an offset an operator (or a test) can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for unit tests: stands still until moved."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class OffsetClock:
    """Wraps a base clock with an adjustable offset (GET/PUT /admin/clock)."""

    def __init__(self, base: Clock, offset_seconds: float = 0.0) -> None:
        self.base = base
        self.offset_seconds = offset_seconds

    def now(self) -> datetime:
        return self.base.now() + timedelta(seconds=self.offset_seconds)
