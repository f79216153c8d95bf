"""Error types a step handler raises to steer the bus, how failures are classified, the bus's own errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from travel.saga.v1 import saga_pb2 as pb


class StepError(Exception):
    """Base of the errors a step handler raises on purpose."""


class BusinessRefusal(StepError):
    """The step was refused for a business reason: never retried, the saga compensates.

    `reason` travels on the slip as a typed field, for the steps that settle the saga.
    """

    def __init__(
        self, message: str = "", reason: pb.RefusalReason.ValueType = pb.REFUSAL_REASON_UNSPECIFIED
    ) -> None:
        super().__init__(message)
        self.reason = reason


class TransientFailure(StepError):
    """The step failed for a passing reason (timeout, 5xx): retried with backoff."""


class FailureKind(StrEnum):
    """The three ways a step can fail, each with its own path through the bus."""

    TRANSIENT = "transient"  # declared passing: retried under the step's own policy
    REFUSAL = "refusal"  # declared business refusal: the saga compensates
    UNEXPECTED = "unexpected"  # anything else is a bug: logged once, a few attempts, dead letter


def failure_kind(error: BaseException) -> FailureKind:
    """Classify what a step raised: only the declared types are transient or refusals."""
    if isinstance(error, BusinessRefusal):
        return FailureKind.REFUSAL
    if isinstance(error, TransientFailure):
        return FailureKind.TRANSIENT
    return FailureKind.UNEXPECTED


@dataclass(frozen=True)
class StepFailure:
    """What a failed attempt raised: its kind, the exception's type name and its message."""

    kind: FailureKind
    error_type: str
    message: str

    @classmethod
    def of(cls, error: BaseException) -> StepFailure:
        return cls(failure_kind(error), type(error).__name__, str(error))

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}" if self.message else self.error_type


class InvalidSlip(ValueError):
    """A routing slip or its step declarations break the saga rules."""


class UndecodableEntry(ValueError):
    """A stream entry does not carry a readable routing slip."""
