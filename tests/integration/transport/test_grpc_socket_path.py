"""The gRPC socket path every process is started with: gRPC knows it, and it hands a call to fewer threads."""

from __future__ import annotations

from kit.grpc_io import IOMGR_SOCKETS
from tools.grpc_io_cost import measure

CALLS = 400


def test_grpc_knows_the_experiments_the_processes_turn_off() -> None:
    cost = measure(IOMGR_SOCKETS, CALLS)
    assert "Unknown experiment" not in cost.logged, cost.logged


def test_the_iomgr_socket_path_hands_a_call_to_fewer_threads() -> None:
    iomgr = measure(IOMGR_SOCKETS, CALLS).switches
    event_engine = measure("", CALLS).switches  # gRPC's own defaults
    # Measured 6 against 13 a call (client and server together): the margin is wide.
    assert iomgr < 0.8 * event_engine, (iomgr, event_engine)
