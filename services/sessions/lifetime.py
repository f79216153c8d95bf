"""How long a purchase session lives: less than the providers keep a hold, so paid holds stay. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kit.settings import ConfigError


@dataclass(frozen=True)
class SessionLifetime:
    """A session's deadline after it opens, checked against how long providers keep a hold."""

    session_ttl_seconds: int
    provider_hold_window_seconds: int

    def __post_init__(self) -> None:
        if self.session_ttl_seconds <= 0:
            raise ConfigError("SESSION_TTL_SECONDS must be positive")
        if self.session_ttl_seconds >= self.provider_hold_window_seconds:
            raise ConfigError(
                f"SESSION_TTL_SECONDS ({self.session_ttl_seconds}) must be below the providers' hold "
                f"window PROVIDER_HOLD_WINDOW_SECONDS ({self.provider_hold_window_seconds}), or a paid "
                "session could find its holds unconfirmable"
            )

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self.session_ttl_seconds)
