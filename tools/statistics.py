"""Latency percentiles and summaries. Pure: numbers in, numbers out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in [0, 1]); a reported p99 is always a value that was measured."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> LatencySummary | None:
        if not values_ms:
            return None
        return cls(
            count=len(values_ms),
            p50_ms=percentile(values_ms, 0.50),
            p95_ms=percentile(values_ms, 0.95),
            p99_ms=percentile(values_ms, 0.99),
            max_ms=max(values_ms),
        )
