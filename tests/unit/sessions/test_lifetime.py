"""A session's lifetime ends before the providers' holds do."""

from datetime import timedelta

import pytest

from kit.settings import ConfigError
from services.sessions.lifetime import SessionLifetime


def test_ttl_must_be_below_hold_window() -> None:
    with pytest.raises(ConfigError, match="must be below"):
        SessionLifetime(session_ttl_seconds=900, provider_hold_window_seconds=900)
    assert SessionLifetime(600, 900).ttl == timedelta(seconds=600)
