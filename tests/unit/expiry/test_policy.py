"""Expiry policy limits."""

import pytest

from kit.settings import ConfigError
from services.expiry.policy import ExpiryPolicy


def test_ttl_must_be_below_hold_window() -> None:
    with pytest.raises(ConfigError, match="must be below"):
        ExpiryPolicy(session_ttl_seconds=900, provider_hold_window_seconds=900)
    assert ExpiryPolicy(600, 900).session_ttl_seconds == 600


def test_lease_deadline() -> None:
    assert ExpiryPolicy(600, 900, lease_seconds=2.5).lease_until_ms(1000) == 3500
