"""One gRPC server bootstrap: error mapping, auth, health, reflection and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import _async as health_async
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.kit.grpc_status import ErrorMappingInterceptor

log = logging.getLogger(__name__)

Registrar = Callable[[grpc.aio.Server], None]


@dataclass(frozen=True)
class ServedService:
    """A gRPC service a process serves: its full name and how to add it to a server."""

    full_name: str
    register: Registrar


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health_async.HealthServicer
    services: Sequence[ServedService] = field(default_factory=list)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)


async def start_server(
    services: Sequence[ServedService],
    port: int,
    host: str = "0.0.0.0",
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> RunningServer:
    """Start serving; port 0 picks a free one (tests)."""
    server = grpc.aio.server(
        interceptors=[ErrorMappingInterceptor(), *interceptors],
        options=[("grpc.so_reuseport", 0)],
    )
    for service in services:
        service.register(server)
    health = health_async.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = [s.full_name for s in services]
    reflection.enable_server_reflection(
        [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC server to {host}:{port}")
    await server.start()
    for name in ["", *names]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("gRPC server listening on %s:%d (%s)", host, bound, ", ".join(names))
    return RunningServer(server=server, port=bound, health=health, services=list(services))


async def wait_for_stop_signal() -> None:
    """Return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
