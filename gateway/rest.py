"""The Starlette route that serves every transcoded binding: match, map, call, answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import grpc
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from gateway.backends import Backends, RoundRobin
from gateway.errors import GatewayError, error_json, rpc_error_response
from gateway.request_id import request_id_of
from gateway.routes import RouteMatch, RouteTable
from gateway.transcoder import Transcoder

_MATCH = "gateway.match"
_ALLOWED = "gateway.allowed"
_JSON = (b"content-type", b"application/json")


class TranscodingRoute(BaseRoute):
    """One Starlette route for the whole table; answers 405 for a known path, wrong method."""

    def __init__(self, table: RouteTable, rpc_timeout: float, max_body_bytes: int) -> None:
        self.table = table
        self.rpc_timeout = rpc_timeout
        self.max_body_bytes = max_body_bytes
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
        try:
            status, payload = await self._transcode(found, scope, receive)
        except GatewayError as error:
            status, payload = error.http_status, error_json(error.body())
        await _send(send, status, payload)

    async def _transcode(self, found: RouteMatch, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        binding = found.binding
        transcoder = self.transcoders[id(binding)]
        headers = _interesting_headers(scope)
        body = b""
        if transcoder.reads_body:
            body = await _read_body(receive, headers.get(b"content-length"), self.max_body_bytes)
        request = transcoder.build_request(found.variables, scope.get("query_string", b""), body)
        invokers = self._invokers.get(id(binding))
        if invokers is None:
            raise GatewayError(503, "the gateway is not connected to its backends")
        metadata = [("x-request-id", request_id_of(scope))]
        authorization = headers.get(b"authorization")
        if authorization is not None:
            if not authorization.isascii():
                raise GatewayError(401, "the Authorization header must be ASCII")
            metadata.append(("authorization", authorization.decode()))
        try:
            response = await invokers.next()(request, metadata=metadata, timeout=self.rpc_timeout)
        except grpc.aio.AioRpcError as error:
            service = binding.method.containing_service.full_name
            status, error_body = rpc_error_response(error, service)
            return status, error_json(error_body)
        return 200, transcoder.render_response(response)


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if raw:
        return str(raw.decode("latin-1"))
    return quote(scope["path"])


def _interesting_headers(scope: Scope) -> dict[bytes, bytes]:
    wanted = (b"authorization", b"content-length")
    return {name: value for name, value in scope["headers"] if name in wanted}


async def _read_body(receive: Receive, content_length: bytes | None, limit: int) -> bytes:
    """The whole body, refusing with 413 as soon as it is known to exceed `limit`."""
    if content_length is not None:
        if not content_length.isdigit():
            raise GatewayError(400, "invalid Content-Length")
        if int(content_length) > limit:
            raise GatewayError(413, f"the request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError(400, "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(
    send: Send, status: int, payload: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [_JSON, (b"content-length", str(len(payload)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
