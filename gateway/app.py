"""Composition root of the gateway: route table, backends, health, OpenAPI and extra routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from google.protobuf.descriptor import FileDescriptor
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.backends import Backends, retried_reads
from gateway.client_forwarding import ClientForwarding
from gateway.config import GatewayConfig
from gateway.descriptors import load_generated_files
from gateway.errors import GatewayError
from gateway.health import check_backends
from gateway.openapi import openapi_document
from gateway.request_id import RequestIdMiddleware
from gateway.rest import TranscodingRoute, served_route
from gateway.routes import RouteTable, bindings_of_files
from gateway.trace_continuation import TraceContinuation
from kit.http_metrics import CountedRequests

log = logging.getLogger(__name__)

# Hooks that run beside the gateway's own lifespan, e.g. a bus consumer for an SSE route.
LifespanHook = Callable[[Starlette], AbstractAsyncContextManager[None]]


def build_app(
    config: GatewayConfig,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    files: Sequence[FileDescriptor] | None = None,
    lifespan_hooks: Sequence[LifespanHook] = (),
    forwarding: ClientForwarding | None = None,
) -> Starlette:
    """The gateway app. `extra_routes` are tried before the transcoded ones; mount more later.

    `files` defaults to every generated `travel.*.v1` module. Nothing connects until startup;
    `app.state.backends` holds the open channels for extra routes that call a backend.
    `forwarding` tells the backends that count per client address who the client is.
    """
    table = RouteTable(bindings_of_files(load_generated_files() if files is None else files))
    packages = sorted({binding.package for binding in table.bindings})
    routed_services = {(b.package, b.method.containing_service) for b in table.bindings}
    backends = Backends(config, packages, retried_reads(routed_services))
    transcoding = TranscodingRoute(table, config.rpc_timeout_seconds, config.max_body_bytes, forwarding)
    services = {b.method.containing_service.full_name: b.package for b in table.bindings}
    openapi_json = JSONResponse(openapi_document(table)).body

    async def healthz(_: Request) -> Response:
        healthy, body = await check_backends(backends, services, config.health_timeout_seconds)
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def openapi(_: Request) -> Response:
        return Response(openapi_json, media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        backends.open()
        transcoding.bind(backends)
        try:
            async with AsyncExitStack() as hooks:
                for hook in lifespan_hooks:
                    await hooks.enter_async_context(hook(app))
                yield
        finally:
            transcoding.bind(None)
            await backends.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *extra_routes,
        transcoding,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(TraceContinuation),
            Middleware(CountedRequests, label=served_route),
            Middleware(RequestIdMiddleware),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.config = config
    app.state.backends = backends
    app.state.route_table = table
    log.info("gateway serves %d bindings of %d packages", len(table.bindings), len(packages))
    return app


async def _http_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = "no such route" if error.status_code == 404 else str(error.detail)
    body = GatewayError(error.status_code, message).body()
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


async def _internal_error(_: Request, error: Exception) -> Response:
    log.error("unhandled gateway error", exc_info=error)
    return JSONResponse(GatewayError(500, "internal error").body(), status_code=500)
