"""The hold state machine and capacity rules, with time passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from simulated_world.providers.domain.errors import RequestRefused
from simulated_world.providers.domain.holds import (
    Hold,
    HoldStatus,
    cancel_decision,
    confirm_decision,
    rooms_for,
    stay_price,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=900)
HOLD = Hold(
    "hold_1", "hotel", HoldStatus.HELD, "s1", "HTL-LIS-01", 2, 3,
    date(2030, 2, 1), date(2030, 2, 3), 60000, "EUR", NOW,
)  # fmt: skip


def test_a_hold_confirms_within_the_window() -> None:
    assert confirm_decision(HOLD, NOW + WINDOW - timedelta(seconds=1), WINDOW) is True


def test_a_hold_past_the_window_is_refused_as_expired() -> None:
    with pytest.raises(RequestRefused) as refused:
        confirm_decision(HOLD, NOW + WINDOW, WINDOW)
    assert refused.value.code == "HOLD_EXPIRED"


def test_a_cancelled_hold_cannot_be_confirmed() -> None:
    with pytest.raises(RequestRefused) as refused:
        confirm_decision(replace(HOLD, status=HoldStatus.CANCELLED), NOW, WINDOW)
    assert refused.value.code == "HOLD_CANCELLED"


def test_confirm_and_cancel_are_idempotent() -> None:
    assert confirm_decision(replace(HOLD, status=HoldStatus.CONFIRMED), NOW + 2 * WINDOW, WINDOW) is False
    assert cancel_decision(replace(HOLD, status=HoldStatus.CANCELLED)) is False
    assert cancel_decision(replace(HOLD, status=HoldStatus.CONFIRMED)) is True
    assert cancel_decision(HOLD) is True


def test_a_stay_occupies_every_night_and_two_guests_share_a_room() -> None:
    assert HOLD.days() == [date(2030, 2, 1), date(2030, 2, 2), date(2030, 2, 3)]
    assert [rooms_for(g) for g in (1, 2, 3, 9)] == [1, 1, 2, 5]
    assert stay_price(10000, 2, 3) == 60000
    assert HOLD.expires_at(WINDOW) == NOW + WINDOW
