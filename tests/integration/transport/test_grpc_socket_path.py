"""The gRPC socket path every process is started with: gRPC knows it, and it hands a call to fewer threads."""

from __future__ import annotations

import pytest

from kit.grpc_io import IOMGR_SOCKETS
from tools.grpc_io_cost import CallCost, measure

CALLS = 400


@pytest.fixture(scope="module")
def iomgr() -> CallCost:
    """One run on the processes' path serves both tests."""
    return measure(IOMGR_SOCKETS, CALLS)


def test_grpc_knows_the_experiments_the_processes_turn_off(iomgr: CallCost) -> None:
    assert "Unknown experiment" not in iomgr.logged, iomgr.logged


def test_the_iomgr_socket_path_hands_a_call_to_fewer_threads(iomgr: CallCost) -> None:
    event_engine = measure("", CALLS).switches  # gRPC's own defaults
    # Measured 6 against 13 a call (client and server together): the margin is wide.
    assert iomgr.switches < 0.8 * event_engine, (iomgr.switches, event_engine)
