"""The real gateway served by uvicorn on a free loopback port, for gateway and operations tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from grpc_health.v1 import health
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from travel.customers.v1 import customers_pb2

from gateway.app import build_app
from gateway.config import GatewayConfig
from tests.integration.gateway.fake_backends import CallLog
from tests.support.polling import eventually
from tests.unit.gateway.echo_proto import echo_file

STARTUP_DEADLINE_SECONDS = 10.0


@dataclass
class RunningGateway:
    client: httpx.AsyncClient
    log: CallLog
    health: health.aio.HealthServicer | None
    app: Starlette


@asynccontextmanager
async def serve_gateway(app: Starlette) -> AsyncIterator[str]:
    """Run the app under uvicorn on a free loopback port; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(
        lambda: server.started, timeout=STARTUP_DEADLINE_SECONDS, what="uvicorn to start", interval=0.01,
        abort_if=lambda: task.done() and "uvicorn stopped",
    )  # fmt: skip
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def gateway_config(address: str) -> GatewayConfig:
    return GatewayConfig(
        backends={"customers": (address,), "echo": (address,)},
        rpc_timeout_seconds=5.0,
        health_timeout_seconds=0.5,
    )


@asynccontextmanager
async def running_gateway(
    address: str,
    log: CallLog,
    servicer: health.aio.HealthServicer | None,
    extra_routes: Sequence[BaseRoute] = (),
) -> AsyncIterator[RunningGateway]:
    files = [customers_pb2.DESCRIPTOR, echo_file()]
    app = build_app(gateway_config(address), extra_routes, files=files)
    async with serve_gateway(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        yield RunningGateway(client, log, servicer, app)
