"""Chaos decisions from an injected random: rates within tolerance, and a seed replays them."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from simulated_world.providers.domain.chaos import ChaosSettings, Failure, decide, webhook_copies
from simulated_world.providers.domain.errors import InvalidField

DRAWS = 10_000


def test_rates_are_met_within_tolerance() -> None:
    settings = ChaosSettings(failure_rate=0.2, ambiguous_rate=0.1)
    rng = random.Random(1)
    counts = Counter(decide(settings, rng).failure for _ in range(DRAWS))
    assert abs(counts[Failure.UNAVAILABLE] / DRAWS - 0.2) < 0.015
    ambiguous = counts[Failure.AMBIGUOUS_500] + counts[Failure.AMBIGUOUS_DROP]
    assert abs(ambiguous / DRAWS - 0.1) < 0.015
    assert counts[Failure.AMBIGUOUS_500] > 0 and counts[Failure.AMBIGUOUS_DROP] > 0


def test_a_seed_replays_the_same_decisions() -> None:
    settings = ChaosSettings(failure_rate=0.5, latency_ms=100, latency_jitter_ms=50)
    a, b = random.Random(9), random.Random(9)
    first = [decide(settings, a) for _ in range(100)]
    assert first == [decide(settings, b) for _ in range(100)]
    assert all(50 <= d.latency_ms <= 150 for d in first)


def test_no_chaos_by_default() -> None:
    rng = random.Random(3)
    assert {decide(ChaosSettings(), rng).failure for _ in range(1000)} == {Failure.NONE}
    assert {webhook_copies(ChaosSettings(), rng) for _ in range(100)} == {1}
    assert {webhook_copies(ChaosSettings(webhook_duplicate_rate=1.0), rng) for _ in range(10)} == {2}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"failureRate": 2}, "failureRate"),
        ({"ambiguousRate": -0.1}, "ambiguousRate"),
        ({"failureRate": 0.7, "ambiguousRate": 0.7}, "ambiguousRate"),
        ({"latencyMs": 1.5}, "latencyMs"),
        ({"webhookDelayMs": -1}, "webhookDelayMs"),
        ({"seed": "x"}, "seed"),
        ({"nope": 1}, "nope"),
    ],
)
def test_bad_settings_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        ChaosSettings().merged(changes)
    assert refused.value.field == field


def test_settings_merge_and_read_back_in_json_names() -> None:
    merged = ChaosSettings().merged({"failureRate": 0.1, "seed": 4, "webhookDuplicateRate": 0.5})
    assert merged.to_json() == {
        "failureRate": 0.1,
        "ambiguousRate": 0.0,
        "latencyMs": 0,
        "latencyJitterMs": 0,
        "seed": 4,
        "webhookDuplicateRate": 0.5,
        "webhookDelayMs": 0,
    }
    assert merged.merged({"seed": None}).seed is None
