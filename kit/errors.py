"""Domain error types shared by every service; pure, and mapped to gRPC status in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from kit.error_reasons import ErrorReason


@dataclass(frozen=True)
class FieldViolation:
    """One offending request field and what is wrong with it."""

    field: str
    description: str


class DomainError(Exception):
    """A business outcome the caller must hear about; never retried as-is.

    `reason` says why in a word a client can branch on (the class's default when not given);
    `metadata` adds the facts a client may act on (e.g. the session id).
    """

    default_reason: ClassVar[ErrorReason] = ErrorReason.REFUSED

    def __init__(
        self, message: str, reason: ErrorReason | None = None, metadata: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        # Set only on a refusal relayed from a peer service, which keeps naming its origin.
        self.domain = ""


class InvalidArgument(DomainError):
    """The request is malformed; names every offending field."""

    default_reason = ErrorReason.INVALID_FIELD

    def __init__(
        self,
        violations: list[FieldViolation] | FieldViolation,
        message: str = "",
        reason: ErrorReason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.violations = [violations] if isinstance(violations, FieldViolation) else violations
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}", reason, metadata)


class FieldRulesBroken(InvalidArgument):
    """The request breaks the field rules its proto declares: a breach of the published contract."""

    default_reason = ErrorReason.FIELD_RULES


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""


class AlreadyExists(DomainError):
    """The resource to create exists already."""


class FailedPrecondition(DomainError):
    """The resource is in a state where this operation is not allowed."""


class Conflict(DomainError):
    """A concurrent change won; the caller may re-read and try again."""

    default_reason = ErrorReason.CONCURRENT_CHANGE


class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    default_reason = ErrorReason.TOKEN_INVALID


class PermissionDenied(DomainError):
    """The caller is known but not allowed to do this."""

    default_reason = ErrorReason.CALLER_NOT_ALLOWED


class ResourceExhausted(DomainError):
    """A limit or quota is used up: too many attempts, streams or open sessions; retry later."""

    default_reason = ErrorReason.RATE_LIMITED

    def __init__(
        self,
        message: str,
        retry_after_seconds: int,
        subject: str = "",
        reason: ErrorReason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason, metadata)
        self.retry_after_seconds = retry_after_seconds
        self.subject = subject


class TransientError(Exception):
    """A dependency failed in a way that may succeed if tried again later."""

    reason = ErrorReason.DEPENDENCY_UNAVAILABLE


class DependencyUnavailable(TransientError):
    """A dependency (provider, database, peer service) did not answer or answered 5xx."""
