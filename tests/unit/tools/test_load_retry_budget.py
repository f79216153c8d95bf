"""A load run's retry settings: what every process is given, and a compensation budget that ends,
retries included, before the run would call its session stuck."""

from __future__ import annotations

import pytest

from bus.backoff import RetryPolicy
from tools.options import LoadOptions

# The run's own chaos: 30% failures and 10% ambiguous ones make a release attempt fail about 6
# times in 10 (two provider calls an attempt).
RELEASE_ATTEMPT_FAILS = 0.6


def compensation_policy(options: LoadOptions) -> RetryPolicy:
    env = options.system_env()
    return RetryPolicy(
        max_attempts=int(env["BUS_COMPENSATION_ATTEMPTS"]),
        base_delay_s=float(env["BUS_RETRY_BASE_DELAY_SECONDS"]),
        max_delay_s=float(env["BUS_COMPENSATION_MAX_DELAY_SECONDS"]),
    )


@pytest.mark.parametrize("retry_attempts", [1, 16, 60])
def test_a_compensation_gives_up_before_the_run_calls_its_session_stuck(retry_attempts: int) -> None:
    options = LoadOptions(retry_attempts=retry_attempts)
    policy = compensation_policy(options)
    # The longest wait: every delay at its ceiling, after each failure but the last.
    longest = sum(policy.delay(failures, 0.999_999) for failures in range(1, policy.max_attempts))
    assert longest < options.stuck_after_seconds


def test_a_release_under_the_runs_chaos_almost_never_spends_the_budget() -> None:
    policy = compensation_policy(LoadOptions())
    assert RELEASE_ATTEMPT_FAILS**policy.max_attempts < 1e-8


def test_a_compensation_budget_is_never_below_the_forward_one() -> None:
    env = LoadOptions(retry_attempts=60).system_env()
    assert int(env["BUS_COMPENSATION_ATTEMPTS"]) == 60
