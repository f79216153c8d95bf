"""Retry policy: capped exponential delays with jitter, and the attempt budget."""

from __future__ import annotations

import pytest

from bus.backoff import RetryPolicy

POLICY = RetryPolicy(max_attempts=5, base_delay_s=0.1, max_delay_s=1.0, multiplier=2.0)


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 0.05, 0.1), (2, 0.1, 0.2), (3, 0.2, 0.4), (4, 0.4, 0.8), (5, 0.5, 1.0), (30, 0.5, 1.0)],
)
def test_delay_grows_then_caps(failures: int, low: float, high: float) -> None:
    assert POLICY.delay(failures, 0.0) == pytest.approx(low)
    assert POLICY.delay(failures, 1.0) == pytest.approx(high)


def test_jitter_spreads_within_the_window() -> None:
    delays = {POLICY.delay(3, r / 10) for r in range(10)}
    assert len(delays) == 10
    assert all(0.2 <= d < 0.4 for d in delays)


def test_budget() -> None:
    assert not POLICY.exhausted(4)
    assert POLICY.exhausted(5)
