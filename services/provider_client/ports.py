"""What the hotel, flights and payments services need from an external provider: its API as a port."""

from __future__ import annotations

from typing import Any, Protocol


class ProviderApi(Protocol):
    """An external provider's HTTP API, answering JSON or raising the project's error types.

    Refusals raise `ProviderRefusal` (with the provider's code), unknown resources `NotFound`,
    malformed requests `InvalidArgument`, an unreachable provider `DependencyUnavailable` and an
    answer that may or may not have taken effect `AmbiguousFailure`.
    """

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

    async def post(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        """POST, retrying transient and ambiguous failures with the same key: effective at most once."""
        ...

    async def post_unambiguous(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        """POST, raising an ambiguous failure at once: the caller reads the provider's state instead."""
        ...

    async def release_hold(self, hold_id: str, key: str) -> bool:
        """Cancel a hold now if possible; whether it is released. A failure is logged, never raised."""
        ...
