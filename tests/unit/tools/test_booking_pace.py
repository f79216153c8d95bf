"""The load driver's budget: trips bounded by count and time, paced by a rate. Pure, with a fake clock."""

from __future__ import annotations

import pytest

from tools.load import BookingBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_without_a_rate_every_trip_may_start_at_once_until_the_count_is_spent() -> None:
    clock = FakeClock()
    budget = BookingBudget(bookings=3, duration_seconds=60, clock=clock)
    assert [budget.next_start() for _ in range(4)] == [0.0, 0.0, 0.0, None]


def test_a_rate_spaces_the_starts_whoever_asks() -> None:
    clock = FakeClock()
    budget = BookingBudget(bookings=0, duration_seconds=60, rate=4.0, clock=clock)
    waits = [budget.next_start() for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.25, 0.5])
    clock.now += 2.0  # late: the slot already passed, so no wait
    assert budget.next_start() == 0.0


def test_no_trip_starts_at_or_after_the_deadline() -> None:
    clock = FakeClock()
    budget = BookingBudget(bookings=0, duration_seconds=1, rate=2.0, clock=clock)
    assert budget.next_start() == 0.0
    assert budget.next_start() == pytest.approx(0.5)
    assert budget.next_start() is None  # its slot would be at the deadline
    clock.now += 5
    assert BookingBudget(0, 1, clock=clock).next_start() == 0.0
