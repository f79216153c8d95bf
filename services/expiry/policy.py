"""How the expiry worker claims due deadlines: how many per sweep, and for how long. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from kit.settings import ConfigError


@dataclass(frozen=True)
class ClaimPolicy:
    """How many due deadlines a sweep claims, and how long a worker may hold a claimed one."""

    lease_seconds: float = 30.0
    batch_size: int = 200

    def __post_init__(self) -> None:
        if self.lease_seconds <= 0 or self.batch_size <= 0:
            raise ConfigError("EXPIRY_LEASE_SECONDS and EXPIRY_BATCH_SIZE must be positive")

    def lease_until_ms(self, now_ms: int) -> int:
        return now_ms + int(self.lease_seconds * 1000)
