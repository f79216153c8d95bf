"""What a step raised decides its path: declared transient, declared refusal, or a bug with its own budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import Retries, RetryPolicy
from bus.entries import Delivery
from bus.errors import BusinessRefusal, FailureKind, StepFailure, TransientFailure, failure_kind
from bus.keys import BusKeys
from bus.outcomes import CommitBuilder
from bus.runtime import BusConfig
from bus.settings import ConsumerSettings
from bus.slip import RETRIABLE, StepDeclaration, build_slip, next_attempt
from kit.settings import ConfigError, Env

NOW = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base_delay_s=0.1, max_delay_s=1.0)
BUGS = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=1.0)
BUILDER = CommitBuilder(BusKeys("unit"), 3, "hotel", "hotel-1", ConsumerSettings(unexpected_retry=BUGS))


class ProviderRefusedSeats(BusinessRefusal):
    """A participant's own refusal type still counts as a refusal."""


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TransientFailure("timeout"), FailureKind.TRANSIENT),
        (BusinessRefusal("sold out"), FailureKind.REFUSAL),
        (ProviderRefusedSeats("no seats"), FailureKind.REFUSAL),
        (ZeroDivisionError("division by zero"), FailureKind.UNEXPECTED),
        (KeyError("hold_id"), FailureKind.UNEXPECTED),
        (TimeoutError("undeclared"), FailureKind.UNEXPECTED),  # only declared failures are transient
    ],
)
def test_only_declared_failures_are_transient_or_refusals(error: Exception, kind: FailureKind) -> None:
    assert failure_kind(error) == kind


def test_a_failure_keeps_the_exception_type_and_message() -> None:
    failure = StepFailure.of(ZeroDivisionError("division by zero"))
    assert (failure.kind, failure.error_type, failure.message) == (
        FailureKind.UNEXPECTED,
        "ZeroDivisionError",
        "division by zero",
    )
    assert str(failure) == "ZeroDivisionError: division by zero"


def test_declared_retries_map_to_the_deployment_numbers() -> None:
    settings = ConsumerSettings(retry=POLICY, compensation_retry=BUGS)
    assert settings.policy(Retries.BOUNDED) == POLICY
    assert settings.policy(Retries.MUST_FINISH) == BUGS


def _delivery(attempt: int = 0, unexpected: int = 0) -> Delivery:
    slip = build_slip(
        saga_id="g1", session_id="s1", kind=pb.SAGA_KIND_CANCEL,
        steps=[StepDeclaration("hotel.release", "hotel", RETRIABLE)], now=NOW,
    )  # fmt: skip
    slip.attempt, slip.unexpected_failures = attempt, unexpected
    return Delivery("1-0", slip, 0.0)


def _dead(commit_item: list[object]) -> dict[str, object]:
    payload = commit_item[3]
    assert isinstance(payload, list)
    return dict(zip(payload[::2], payload[1::2], strict=True))


def test_a_bug_is_retried_on_its_own_budget_then_dead_lettered_with_type_and_message() -> None:
    bug = StepFailure.of(ZeroDivisionError("division by zero"))
    # Earlier transient attempts do not eat the bug's budget.
    retried = BUILDER.failed(_delivery(attempt=4, unexpected=1), bug, BUGS, 100.0, 0.5)
    assert retried.item[1] == "retry" and retried.retry_at is not None
    dead = BUILDER.failed(_delivery(attempt=5, unexpected=2), bug, BUGS, 100.0, 0.5)
    assert dead.item[1] == "dead"
    fields = _dead(dead.item)
    assert fields["error_type"] == "ZeroDivisionError"
    assert fields["error_message"] == "division by zero"
    assert fields["failure_kind"] == "unexpected"
    assert fields["error"] == "unexpected ZeroDivisionError: division by zero after 3 attempts"


def test_a_transient_failure_counts_every_attempt_against_the_step_policy() -> None:
    timeout = StepFailure.of(TransientFailure("provider timeout"))
    assert BUILDER.failed(_delivery(attempt=3), timeout, POLICY, 100.0, 0.5).item[1] == "retry"
    dead = BUILDER.failed(_delivery(attempt=4), timeout, POLICY, 100.0, 0.5)
    expected = "retry budget spent after 5 attempts: TransientFailure: provider timeout"
    assert _dead(dead.item)["error"] == expected


def test_only_an_unexpected_failure_counts_as_one() -> None:
    slip = _delivery().slip
    assert next_attempt(slip, NOW).unexpected_failures == 0
    assert next_attempt(slip, NOW, unexpected=True).unexpected_failures == 1
    assert next_attempt(slip, NOW, unexpected=True).attempt == 1


def test_a_refusal_that_cannot_compensate_is_dead_lettered_with_what_was_raised() -> None:
    delivery = _delivery()
    delivery.slip.phase = pb.SLIP_PHASE_COMPENSATING
    refusal = StepFailure.of(BusinessRefusal("refund refused: PAYMENT_LOCKED"))
    dead = BUILDER.refused(delivery, "refund refused: PAYMENT_LOCKED", 100.0, failure=refusal)
    fields = _dead(dead.item)
    assert (fields["failure_kind"], fields["error_type"]) == ("refusal", "BusinessRefusal")
    assert fields["error"] == "refused (compensation cannot refuse): refund refused: PAYMENT_LOCKED"


def test_the_bugs_budget_is_a_deployment_setting() -> None:
    redis = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    configured = BusConfig.from_env(Env({**redis, "BUS_BUG_ATTEMPTS": "5"}), "hotel")
    assert configured.consumer.unexpected_retry.max_attempts == 5
    assert BusConfig.from_env(Env(redis), "hotel").consumer.unexpected_retry.max_attempts == 3
    with pytest.raises(ConfigError, match="BUS_BUG_ATTEMPTS"):
        BusConfig.from_env(Env({**redis, "BUS_BUG_ATTEMPTS": "0"}), "hotel")
