"""The port allocator: within its range, never the same port twice, never one somebody listens on."""

from __future__ import annotations

import socket

import pytest

from tools.free_ports import PortAllocator


def test_hands_out_each_port_once_and_wraps_around_the_range() -> None:
    allocator = PortAllocator(24000, 24009, start=24007, binds=lambda _port: True)
    ports = [allocator.take() for _ in range(10)]
    assert sorted(ports) == list(range(24000, 24010))
    assert ports[:3] == [24007, 24008, 24009]
    with pytest.raises(RuntimeError, match="no free loopback port"):
        allocator.take()


def test_skips_a_port_somebody_listens_on() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = int(listener.getsockname()[1])
        allocator = PortAllocator(taken - 1, taken + 1, start=taken)
        handed_out = []
        # Its neighbours may be busy too (another process's connection): only the listener's is sure.
        with pytest.raises(RuntimeError, match="no free loopback port"):
            while True:
                handed_out.append(allocator.take())
        assert taken not in handed_out
        assert set(handed_out) <= {taken - 1, taken + 1}


def test_never_hands_out_a_port_that_does_not_bind() -> None:
    allocator = PortAllocator(100, 103, start=100, binds=lambda port: port % 2 == 1)
    assert [allocator.take(), allocator.take()] == [101, 103]
    with pytest.raises(RuntimeError):
        allocator.take()


def test_refuses_an_empty_range() -> None:
    with pytest.raises(ValueError, match="empty port range"):
        PortAllocator(5, 5, start=5)
