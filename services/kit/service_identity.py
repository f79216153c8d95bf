"""Service-to-service credentials: a short-lived service token, minted locally and renewed before expiry."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from services.kit.tokens import SCOPE_SERVICE, TokenIssuer


class ServiceCredentials:
    def __init__(
        self, issuer: TokenIssuer, service_name: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._issuer = issuer
        self._service = service_name
        self._clock = clock
        self._token = ""
        self._renew_at = 0.0

    def metadata(self) -> tuple[tuple[str, str], ...]:
        now = self._clock()
        if now >= self._renew_at:
            self._token = self._issuer.issue(
                f"service:{self._service}", now=int(now), token_id=str(uuid.uuid4()), scope=SCOPE_SERVICE
            )
            self._renew_at = now + self._issuer.ttl_seconds / 2
        return (("authorization", f"Bearer {self._token}"),)
