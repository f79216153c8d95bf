"""One gRPC server bootstrap: the served-call interceptor, health, reflection and graceful shutdown."""

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

from kit.auth import CallerCheck
from kit.grpc_status import DEFAULT_DOMAIN, service_domain
from kit.grpc_tls import GrpcTls
from kit.served_calls import ServedCallInterceptor

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
    host: str = "127.0.0.1",
    caller_check: CallerCheck | None = None,
    tls: GrpcTls | None = None,
    error_domain: str | None = None,
) -> RunningServer:
    """Start serving, over TLS when `tls` is given, else plaintext; port 0 picks a free one (tests).

    Every call is admitted by `caller_check`; without one every caller is anonymous. Error statuses
    name `error_domain`, by default that of the first service (`sessions.travel.example`).
    """
    if error_domain is None:
        error_domain = service_domain(services[0].full_name) if services else DEFAULT_DOMAIN
    server = grpc.aio.server(
        interceptors=[ServedCallInterceptor(caller_check, error_domain)],
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
    address = f"{host}:{port}"
    if tls is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, tls.server_credentials())
    if bound == 0:
        raise OSError(f"cannot bind gRPC server to {host}:{port}")
    await server.start()
    for name in ["", *names]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    security = "plaintext" if tls is None else ("mutual TLS" if tls.client_auth else "TLS")
    log.info("gRPC server listening on %s:%d, %s (%s)", host, bound, security, ", ".join(names))
    return RunningServer(server=server, port=bound, health=health, services=list(services))


async def wait_for_stop_signal() -> None:
    """Return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
