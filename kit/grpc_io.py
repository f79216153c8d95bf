"""The environment a process needs for gRPC's lighter socket path: read by gRPC when first imported.

gRPC's EventEngine client and listener hand every socket event to a thread pool of their own
before it reaches the completion queue that grpc.aio polls; the older iomgr path handles it on the
polling thread. Measured on a unary call, client and server in one process: 13 voluntary context
switches a call against 6, and some 40% more CPU (`python -m tools.grpc_io_cost`).

gRPC reads GRPC_EXPERIMENTS once, as its core starts when `grpc` is first imported, so it cannot be
set from a process's own code: whatever starts the processes puts it in their environment (the
launcher, the supervised system of the tests and benchmarks, the Dockerfile). A value already set
there wins.
"""

from __future__ import annotations

from collections.abc import MutableMapping

GRPC_EXPERIMENTS = "GRPC_EXPERIMENTS"
# The EventEngine paths off, for the channels' connections and the servers' listeners.
IOMGR_SOCKETS = "-event_engine_client,-event_engine_listener"


def with_grpc_io(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """`env` with the gRPC socket path set, unless it already says which experiments to run."""
    env.setdefault(GRPC_EXPERIMENTS, IOMGR_SOCKETS)
    return env
