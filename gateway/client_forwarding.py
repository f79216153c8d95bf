"""Telling the customers service who the HTTP client is, vouched for by the gateway's own service token."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

from kit.forwarding import forwarding_metadata
from kit.service_identity import ServiceCredentials

# Only the customers service counts attempts per client address; no other backend needs the
# gateway's token, so none receives it.
CUSTOMERS_PACKAGE = "travel.customers.v1"


class ClientForwarding:
    def __init__(
        self, credentials: ServiceCredentials, packages: Iterable[str] = (CUSTOMERS_PACKAGE,)
    ) -> None:
        self._credentials = credentials
        self._packages = frozenset(packages)

    def metadata(self, package: str, scope: Scope) -> list[tuple[str, str]]:
        """The client address (as uvicorn saw it, after any trusted proxy headers) and the proof."""
        client = scope.get("client")
        if package not in self._packages or not client or not client[0]:
            return []
        return forwarding_metadata(str(client[0]), self._credentials)
