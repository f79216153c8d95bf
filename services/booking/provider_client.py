"""HTTP client of an external provider: idempotency keys, timeouts, retries of transient failures only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from services.kit.errors import (
    DependencyUnavailable,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    TransientError,
)

log = logging.getLogger(__name__)


class ProviderRefusal(FailedPrecondition):
    """The provider said no for a business reason (hold expired, cancelled, sold out...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AmbiguousFailure(DependencyUnavailable):
    """The request may or may not have taken effect (timeout, dropped connection, 500)."""


@dataclass(frozen=True)
class RetryBudget:
    attempts: int = 6
    max_seconds: float = 5.0
    initial_wait: float = 0.05
    max_wait: float = 1.0


class ProviderClient:
    def __init__(self, client: httpx.AsyncClient, base_url: str, budget: RetryBudget | None = None) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._budget = budget or RetryBudget()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._with_retries("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        """POST with the same idempotency key on every attempt, so a retry never doubles an effect."""
        return await self._with_retries("POST", path, body=body or {}, idempotency_key=idempotency_key)

    async def post_unambiguous(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        """POST, retrying only failures where the provider surely did nothing (refused, unreachable).

        An ambiguous failure is raised at once: the caller must read the provider's state first.
        """
        return await self._with_retries(
            "POST", path, body=body or {}, idempotency_key=idempotency_key, retry_ambiguous=False
        )

    async def release_hold(self, hold_id: str, key: str) -> None:
        """Release a hold now, on a best-effort basis: the session's closing saga releases every
        hold left under its reference anyway, so a failure here is logged, not raised."""
        try:
            await self.post(f"/holds/{hold_id}/cancel", None, idempotency_key=f"{key}:release")
        except (DomainError, TransientError):
            log.exception("could not release hold %s now; the session's closing saga will", hold_id)

    async def _with_retries(self, method: str, path: str, retry_ambiguous: bool = True, **kwargs: Any) -> Any:
        def retryable(error: BaseException) -> bool:
            if isinstance(error, AmbiguousFailure):
                return retry_ambiguous
            return isinstance(error, DependencyUnavailable)

        retrying = AsyncRetrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt(self._budget.attempts) | stop_after_delay(self._budget.max_seconds),
            wait=wait_exponential_jitter(initial=self._budget.initial_wait, max=self._budget.max_wait),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(method, path, **kwargs)
        raise AssertionError("unreachable")

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = await self._client.request(
                method, f"{self._base}{path}", params=params, json=body, headers=headers
            )
        except httpx.ConnectError as error:
            raise DependencyUnavailable(f"provider unreachable: {error}") from None
        except httpx.TransportError as error:
            # Sent but no answer: the provider may have done the work.
            raise AmbiguousFailure(f"provider did not answer {method} {path}: {error!r}") from None
        return _interpret(method, path, response)


def _interpret(method: str, path: str, response: httpx.Response) -> Any:
    status = response.status_code
    if status < 300:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("error", "")) if isinstance(body, dict) else ""
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    if status in (502, 503, 504, 429):
        raise DependencyUnavailable(f"provider unavailable ({status}) on {method} {path}")
    if status >= 500:
        raise AmbiguousFailure(f"provider failed ({status}) on {method} {path}")
    if status == 404:
        raise NotFound(message or f"not found at the provider: {path}")
    if status == 400:
        field = str(body.get("field", "")) if isinstance(body, dict) else ""
        raise InvalidArgument(FieldViolation(field or "request", message or "refused by the provider"))
    if status == 409:
        raise ProviderRefusal(code or "REFUSED", message or "refused by the provider")
    raise ProviderRefusal(code or f"HTTP_{status}", message or f"provider answered {status}")
