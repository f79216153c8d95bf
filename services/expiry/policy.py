"""Expiry policy: session lifetime limits and lease arithmetic. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from kit.settings import ConfigError


@dataclass(frozen=True)
class ExpiryPolicy:
    """How long sessions live and how long a worker may hold a claimed deadline."""

    session_ttl_seconds: int
    provider_hold_window_seconds: int
    lease_seconds: float = 30.0
    batch_size: int = 200

    def __post_init__(self) -> None:
        if self.session_ttl_seconds <= 0:
            raise ConfigError("SESSION_TTL_SECONDS must be positive")
        if self.session_ttl_seconds >= self.provider_hold_window_seconds:
            raise ConfigError(
                f"SESSION_TTL_SECONDS ({self.session_ttl_seconds}) must be below the providers' hold "
                f"window PROVIDER_HOLD_WINDOW_SECONDS ({self.provider_hold_window_seconds}), or a paid "
                "session could find its holds unconfirmable"
            )
        if self.lease_seconds <= 0 or self.batch_size <= 0:
            raise ConfigError("EXPIRY_LEASE_SECONDS and EXPIRY_BATCH_SIZE must be positive")

    def lease_until_ms(self, now_ms: int) -> int:
        return now_ms + int(self.lease_seconds * 1000)
