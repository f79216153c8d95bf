"""Provider error types, each with a machine-readable code; mapped to HTTP in one place."""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every error a provider reports to its caller on purpose."""

    code = "ERROR"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidField(ProviderError):
    """The request is malformed; names the offending field (HTTP 400)."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ResourceNotFound(ProviderError):
    """The addressed resource does not exist (HTTP 404)."""

    code = "NOT_FOUND"


class RequestRefused(ProviderError):
    """A definitive business refusal; retrying the same call will not help (HTTP 409)."""

    code = "REFUSED"


class IdempotencyKeyReused(ProviderError):
    """The Idempotency-Key was already used with a different request (HTTP 422)."""

    code = "IDEMPOTENCY_KEY_REUSED"
