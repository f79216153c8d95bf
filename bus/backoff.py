"""Retry policy: how many attempts a step gets and how long to wait before the next one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, and an attempt budget."""

    # A saga step calls its remote service once per attempt (no retry loop inside the call), so
    # the budget alone must ride out a flaky one: a two-call step failing half its attempts
    # gives up about once in 50,000.
    max_attempts: int = 16
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


class Retries(StrEnum):
    """The retry policy a step declares for its transient failures; a deployment sets its numbers.

    BOUNDED: the step may still be compensated, so after its budget it is dead-lettered for an
    operator rather than holding the saga forever. MUST_FINISH: a compensation, or a step past the
    point of no return, that the saga cannot end without, so it keeps retrying for much longer.
    """

    BOUNDED = "bounded"
    MUST_FINISH = "must_finish"
