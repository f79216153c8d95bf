"""The Starlette route that serves every transcoded binding: match, map, call, answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import grpc
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from gateway.backends import Backends, RoundRobin
from gateway.client_forwarding import ClientForwarding
from gateway.errors import GatewayError, backend_error, error_json
from gateway.request_body import read_scope_body
from gateway.request_id import request_id_of
from gateway.routes import RouteMatch, RouteTable
from gateway.transcoder import Transcoder
from kit.http_metrics import route_template
from kit.trace_context import current_headers

_MATCH = "gateway.match"
_ALLOWED = "gateway.allowed"
_JSON = (b"content-type", b"application/json")


class TranscodingRoute(BaseRoute):
    """One Starlette route for the whole table; answers 405 for a known path, wrong method."""

    def __init__(
        self,
        table: RouteTable,
        rpc_timeout: float,
        max_body_bytes: int,
        forwarding: ClientForwarding | None = None,
    ) -> None:
        self.table = table
        self.rpc_timeout = rpc_timeout
        self.max_body_bytes = max_body_bytes
        self.forwarding = forwarding
        self.transcoders = {id(b): Transcoder(b) for b in table.bindings}
        self._invokers: dict[int, RoundRobin] = {}

    def bind(self, backends: Backends | None) -> None:
        """Attach (or with None, detach) the open channels; called by the app's lifespan."""
        self._invokers.clear()
        if backends is None:
            return
        for binding in self.table.bindings:
            transcoder = self.transcoders[id(binding)]
            self._invokers[id(binding)] = backends.unary(
                binding.package,
                binding.rpc_path,
                transcoder.request_class.SerializeToString,
                transcoder.response_class.FromString,
            )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = _raw_path(scope)
        found = self.table.match(scope["method"], path)
        if found is not None:
            return Match.FULL, {_MATCH: found}
        allowed = self.table.allowed_methods(path)
        if allowed:
            return Match.PARTIAL, {_ALLOWED: allowed}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        found: RouteMatch | None = scope.get(_MATCH)
        if found is None:
            allowed = ", ".join(scope.get(_ALLOWED, ()))
            error = GatewayError(405, f"method {scope['method']} is not allowed here")
            await _send(send, 405, error_json(error.body()), [(b"allow", allowed.encode())])
            return
        headers: list[tuple[bytes, bytes]] = []
        try:
            status, payload = await self._transcode(found, scope, receive)
        except GatewayError as error:
            status, payload, headers = error.http_status, error_json(error.body()), error.raw_headers()
        await _send(send, status, payload, headers)

    async def _transcode(self, found: RouteMatch, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        binding = found.binding
        transcoder = self.transcoders[id(binding)]
        headers = _interesting_headers(scope)
        body = b""
        if transcoder.reads_body:
            body = await read_scope_body(scope, receive, self.max_body_bytes)
        request = transcoder.build_request(found.variables, scope.get("query_string", b""), body)
        invokers = self._invokers.get(id(binding))
        if invokers is None:
            raise GatewayError(503, "the gateway is not connected to its backends")
        metadata = [("x-request-id", request_id_of(scope)), *current_headers().items()]
        if self.forwarding is not None:
            metadata += self.forwarding.metadata(binding.package, scope)
        authorization = headers.get(b"authorization")
        if authorization is not None:
            if not authorization.isascii():
                raise GatewayError(401, "the Authorization header must be ASCII")
            metadata.append(("authorization", authorization.decode()))
        try:
            response = await invokers.next()(request, metadata=metadata, timeout=self.rpc_timeout)
        except grpc.aio.AioRpcError as error:
            raise backend_error(error, binding.method.containing_service.full_name) from None
        return 200, transcoder.render_response(response)


def served_route(scope: Scope) -> str:
    """What a request is counted under: the binding's verb and template when it was transcoded."""
    found: RouteMatch | None = scope.get(_MATCH)
    if found is None:
        return route_template(scope)
    return f"{found.binding.http_method} {found.binding.template.source}"


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if raw:
        return str(raw.decode("latin-1"))
    return quote(scope["path"])


def _interesting_headers(scope: Scope) -> dict[bytes, bytes]:
    wanted = (b"authorization", b"content-length")
    return {name: value for name, value in scope["headers"] if name in wanted}


async def _send(
    send: Send, status: int, payload: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [_JSON, (b"content-length", str(len(payload)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
