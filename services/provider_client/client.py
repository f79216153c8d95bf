"""HTTP client of an external provider: idempotency keys, timeouts, retries of transient failures only.

A saga step calls the provider once per attempt: the step's declared policy retries, not the client.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from kit.error_reasons import ErrorReason
from kit.errors import (
    DependencyUnavailable,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    TransientError,
)
from kit.metrics import count_provider_call
from services.provider_client.ports import ProviderApi

log = logging.getLogger(__name__)


class ProviderRefusal(FailedPrecondition):
    """The provider said no for a business reason (hold expired, cancelled, sold out...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, ErrorReason.PROVIDER_REFUSED, {"provider_code": code})
        self.code = code


class AmbiguousFailure(DependencyUnavailable):
    """The request may or may not have taken effect (timeout, dropped connection, 500)."""


@dataclass(frozen=True)
class RetryBudget:
    """Retries inside one call, for callers with no retry policy of their own (a gRPC request)."""

    attempts: int = 6
    max_seconds: float = 5.0
    initial_wait: float = 0.05
    max_wait: float = 1.0


def provider_path(*segments: str) -> str:
    """A provider URL path whose segments are percent-encoded whole: no id can add or climb a segment."""
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"{segment!r} cannot be a path segment")
    return "".join("/" + quote(segment, safe="") for segment in segments)


# An idle connection is dropped before the provider's server closes it (5 s keep-alive), so a
# request never goes out on a connection the server is closing at that moment.
IDLE_SECONDS = 4.0


def provider_session(timeout_seconds: float, connect_seconds: float = 2.0) -> aiohttp.ClientSession:
    """The one HTTP session a process keeps for its provider: pooled keep-alive connections.

    Make it inside the running event loop, after tracing is started (its instrumentation hooks
    sessions as they are made).
    """
    return aiohttp.ClientSession(
        # No overall bound: a read may wait `timeout_seconds` for each chunk, a connection `connect_seconds`,
        # and a free connection from the pool `timeout_seconds`.
        timeout=aiohttp.ClientTimeout(
            total=None, connect=timeout_seconds, sock_connect=connect_seconds, sock_read=timeout_seconds
        ),
        connector=aiohttp.TCPConnector(limit=200, limit_per_host=0, keepalive_timeout=IDLE_SECONDS),
        # The answers are JSON read whole; no cookie state is ever shared between calls.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class ProviderClient:
    def __init__(
        self,
        client: aiohttp.ClientSession,
        base_url: str,
        budget: RetryBudget | None = None,
        name: str = "provider",
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._budget = budget or RetryBudget()
        self._name = name

    def single_attempt(self) -> ProviderClient:
        """The same client, one attempt per call, sharing the connection pool."""
        return ProviderClient(self._client, self._base, RetryBudget(attempts=1), self._name)

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

    async def release_hold(self, hold_id: str, key: str) -> bool:
        """Release a hold now, on a best-effort basis; whether it surely is released. A failure is
        logged, not raised: the reserve attempt stays recorded, and whoever settles the session
        releases every hold left under its reference."""
        try:
            await self.post(provider_path("holds", hold_id, "cancel"), None, idempotency_key=f"{key}:release")
        except (DomainError, TransientError):
            log.exception("could not release hold %s now; the session's settlement will", hold_id)
            return False
        return True

    async def _with_retries(self, method: str, path: str, retry_ambiguous: bool = True, **kwargs: Any) -> Any:
        if self._budget.attempts <= 1:
            # A saga step's call: its step's policy retries, so no retry loop is built per call here.
            return await self._send(method, path, **kwargs)

        def retryable(error: BaseException) -> bool:
            if isinstance(error, AmbiguousFailure):
                return retry_ambiguous
            return isinstance(error, DependencyUnavailable)

        retrying = AsyncRetrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt(self._budget.attempts) | stop_after_delay(self._budget.max_seconds),
            wait=wait_exponential_jitter(multiplier=self._budget.initial_wait, max=self._budget.max_wait),
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
        operation = provider_operation(method, path)
        try:
            async with self._client.request(
                method, f"{self._base}{path}", params=params, json=body, headers=headers
            ) as response:
                status, content = response.status, await response.read()
        except aiohttp.ClientConnectorError as error:
            count_provider_call(self._name, operation, "unreachable")
            raise DependencyUnavailable(f"provider unreachable: {error}") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            count_provider_call(self._name, operation, "no_answer")
            # Sent but no answer: the provider may have done the work.
            raise AmbiguousFailure(f"provider did not answer {method} {path}: {error!r}") from None
        count_provider_call(self._name, operation, _OUTCOMES.get(status // 100, "other"))
        return _interpret(method, path, status, content)


def for_saga_steps(provider: ProviderApi) -> ProviderApi:
    """The provider as saga steps call it: once per attempt, so retries follow the step's policy alone.

    An in-memory stand-in keeps its own rules.
    """
    return provider.single_attempt() if isinstance(provider, ProviderClient) else provider


# What a provider's answer counts as, by status class: 4xx are refusals, 5xx failures of theirs.
_OUTCOMES = {2: "ok", 4: "refused", 5: "failed"}


def provider_operation(method: str, path: str) -> str:
    """`METHOD /holds/{id}/confirm`: provider paths are collection/id pairs; every second segment is an id."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    template = "/".join("{id}" if index % 2 else segment for index, segment in enumerate(segments))
    return f"{method} /{template}"


def _interpret(method: str, path: str, status: int, content: bytes) -> Any:
    if status < 300:
        return json.loads(content)
    try:
        body = json.loads(content)
    except ValueError:
        body = {}
    code = str(body.get("error", "")) if isinstance(body, dict) else ""
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    if status in (502, 503, 504, 429):
        raise DependencyUnavailable(f"provider unavailable ({status}) on {method} {path}")
    if status >= 500:
        raise AmbiguousFailure(f"provider failed ({status}) on {method} {path}")
    if status == 404:
        raise NotFound(message or f"not found at the provider: {path}", reason=ErrorReason.PROVIDER_NOT_FOUND)
    if status == 400:
        field = str(body.get("field", "")) if isinstance(body, dict) else ""
        raise InvalidArgument(
            FieldViolation(field or "request", message or "refused by the provider"),
            reason=ErrorReason.INVALID_FIELD,
        )
    if status == 409:
        raise ProviderRefusal(code or "REFUSED", message or "refused by the provider")
    raise ProviderRefusal(code or f"HTTP_{status}", message or f"provider answered {status}")
