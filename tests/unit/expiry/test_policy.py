"""How the expiry worker claims deadlines."""

import pytest

from kit.settings import ConfigError
from services.expiry.policy import ClaimPolicy


def test_lease_and_batch_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="must be positive"):
        ClaimPolicy(lease_seconds=0)
    with pytest.raises(ConfigError, match="must be positive"):
        ClaimPolicy(batch_size=0)


def test_lease_deadline() -> None:
    assert ClaimPolicy(lease_seconds=2.5).lease_until_ms(1000) == 3500
