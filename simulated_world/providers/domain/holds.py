"""Holds: the state machine (HELD -> CONFIRMED, HELD/CONFIRMED -> CANCELLED) and capacity rules."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from simulated_world.providers.domain.errors import RequestRefused

GUESTS_PER_ROOM = 2


class HoldStatus(enum.StrEnum):
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Segment:
    """One flight of a multi-segment hold: its seats and its share of the hold's amount."""

    item_id: str
    day: date
    quantity: int
    amount: int


@dataclass(frozen=True)
class Hold:
    """One hold or reservation; `quantity` is rooms (hotel) or seats (flight) taken per day.

    A multi-segment flight hold keeps its flights in `segments`; its own item and days are the
    first flight's and the span of all, and the segments say what capacity it takes.
    """

    id: str
    kind: str
    status: HoldStatus
    reference: str
    item_id: str
    quantity: int
    party_size: int
    first_day: date
    last_day: date
    amount: int
    currency: str
    created_at: datetime
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    idempotency_key: str | None = None
    segments: tuple[Segment, ...] = ()

    def days(self) -> list[date]:
        """The days whose capacity the hold occupies (every night of a stay, or the flight day)."""
        return days_between(self.first_day, self.last_day)

    def taken(self) -> list[tuple[str, list[date], int]]:
        """(item, days, quantity) for every item whose capacity the hold occupies."""
        if self.segments:
            return [(s.item_id, [s.day], s.quantity) for s in self.segments]
        return [(self.item_id, self.days(), self.quantity)]

    def expires_at(self, window: timedelta) -> datetime:
        return self.created_at + window


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def rooms_for(guests: int) -> int:
    """Rooms a party needs: two guests share a room."""
    return math.ceil(guests / GUESTS_PER_ROOM)


def stay_price(nightly_price: int, rooms: int, nights: int) -> int:
    return nightly_price * rooms * nights


def confirm_decision(hold: Hold, now: datetime, window: timedelta) -> bool:
    """True when the hold must move to CONFIRMED, False when it already is; raises a refusal."""
    if hold.status is HoldStatus.CONFIRMED:
        return False
    if hold.status is HoldStatus.CANCELLED:
        raise RequestRefused(f"hold {hold.id} was cancelled", "HOLD_CANCELLED")
    if now >= hold.expires_at(window):
        raise RequestRefused(
            f"hold {hold.id} expired at {hold.expires_at(window).isoformat()}; "
            f"holds must be confirmed within {int(window.total_seconds())} s",
            "HOLD_EXPIRED",
        )
    return True


def cancel_decision(hold: Hold) -> bool:
    """True when the hold must move to CANCELLED (releasing its capacity), False if it already is."""
    return hold.status is not HoldStatus.CANCELLED
