"""Retry policy: how many attempts a step gets and how long to wait before the next one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, and an attempt budget."""

    max_attempts: int = 8
    base_delay_s: float = 0.2
    max_delay_s: float = 30.0
    multiplier: float = 2.0

    def exhausted(self, failed_attempts: int) -> bool:
        """True once `failed_attempts` failures used the whole budget."""
        return failed_attempts >= self.max_attempts

    def delay(self, failed_attempts: int, random_unit: float) -> float:
        """Seconds to wait after the n-th failure (n >= 1); `random_unit` is in [0, 1).

        Full jitter keeps retries of many sagas that failed together from arriving together.
        """
        exponent = max(failed_attempts - 1, 0)
        ceiling = min(self.max_delay_s, self.base_delay_s * self.multiplier**exponent)
        # Half fixed, half random: never retries instantly, still spreads the herd.
        return ceiling / 2 + (ceiling / 2) * random_unit
