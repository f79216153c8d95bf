"""Domain error types shared by every service; pure, and mapped to gRPC status in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One offending request field and what is wrong with it."""

    field: str
    description: str


class DomainError(Exception):
    """A business outcome the caller must hear about; never retried as-is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """The request is malformed; names every offending field."""

    def __init__(self, violations: list[FieldViolation] | FieldViolation, message: str = "") -> None:
        self.violations = [violations] if isinstance(violations, FieldViolation) else violations
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}")


class FieldRulesBroken(InvalidArgument):
    """The request breaks the field rules its proto declares: a breach of the published contract."""


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""


class AlreadyExists(DomainError):
    """The resource to create exists already."""


class FailedPrecondition(DomainError):
    """The resource is in a state where this operation is not allowed."""


class Conflict(DomainError):
    """A concurrent change won; the caller may re-read and try again."""


class Unauthenticated(DomainError):
    """No valid credentials were presented."""


class PermissionDenied(DomainError):
    """The caller is known but not allowed to do this."""


class ResourceExhausted(DomainError):
    """A limit or quota is used up: too many attempts, streams or open sessions; retry later."""

    def __init__(self, message: str, retry_after_seconds: int, subject: str = "") -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.subject = subject


class TransientError(Exception):
    """A dependency failed in a way that may succeed if tried again later."""


class DependencyUnavailable(TransientError):
    """A dependency (provider, database, peer service) did not answer or answered 5xx."""
