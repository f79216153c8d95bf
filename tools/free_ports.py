"""Free loopback ports for a system started on the fly: never the same one twice, never an ephemeral one.

A port found by binding to 0 comes from the kernel's ephemeral range, which outgoing connections
draw from too, and the kernel may hand the same one out again a moment later: a system of a dozen
listeners then sometimes starts two of them on one port. Ports here come from below the ephemeral
range, start at a place of this process's own, and are handed out once per process.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

LOWEST = 20000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _highest() -> int:
    """The port below the ephemeral range (32768 when the kernel does not say)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0]) - 1
    except (OSError, ValueError, IndexError):
        return 32767


class PortAllocator:
    """Hands out ports in [lowest, highest] that bind right now and were not handed out before."""

    def __init__(
        self, lowest: int, highest: int, start: int, binds: Callable[[int], bool] | None = None
    ) -> None:
        if not lowest < highest:
            raise ValueError(f"an empty port range [{lowest}, {highest}]")
        self._lowest = lowest
        self._size = highest - lowest + 1
        self._next = (start - lowest) % self._size
        self._handed_out: set[int] = set()
        self._lock = threading.Lock()
        self._binds = binds or _binds

    def take(self) -> int:
        with self._lock:
            for _ in range(self._size):
                port = self._lowest + self._next
                self._next = (self._next + 1) % self._size
                if port not in self._handed_out and self._binds(port):
                    self._handed_out.add(port)
                    return port
        raise RuntimeError(f"no free loopback port left in [{self._lowest}, {self._lowest + self._size - 1}]")


def _binds(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@functools.cache
def _process_allocator() -> PortAllocator:
    highest = max(_highest(), LOWEST + 1000)
    # Runs side by side (two test runs, a benchmark beside them) start far apart in the range.
    start = LOWEST + (os.getpid() * 7919) % (highest - LOWEST)
    return PortAllocator(LOWEST, highest, start)


def free_port() -> int:
    """A loopback port nobody listens on now, and that this process has not handed out before."""
    return _process_allocator().take()
