"""Which gRPC targets travel_client treats as this machine (local credentials) and which as another host."""

from __future__ import annotations

import pytest
from travel_client.channels import is_loopback


@pytest.mark.parametrize(
    "target",
    [
        "localhost:50051",
        "127.0.0.1:50051",
        "127.8.9.10:1",
        "[::1]:50051",
        "::1",
        "dns:///localhost:50052",
        "localhost",
    ],
)
def test_loopback_targets(target: str) -> None:
    assert is_loopback(target)


@pytest.mark.parametrize(
    "target", ["sessions:50052", "10.0.0.7:50052", "[2001:db8::1]:443", "dns:///sessions.internal:50052"]
)
def test_other_hosts(target: str) -> None:
    assert not is_loopback(target)
