"""`python -m tools.served_call_cost`: CPU per served unary gRPC call over loopback, both sides.

A real grpc.aio server as every process starts one (health, reflection, the served-call stack with
the sessions service's access policy) answers a no-op `SessionsService` in the same process as its
client; CPU is the process's, so each figure is client plus server per call. Three calls: none
of the server's checks (a bare grpc.aio server), an internal call with a service token
(`ExpireSessions` from expiry) and a customer call with a customer token (`GetSession`). First,
what the server's interceptors alone add to a call, run in process the way grpc.aio runs them
(each interceptor wrapping the next), without the network's noise.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import grpc
from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from kit.auth import CallerCheck
from kit.grpc_server import ServedService, start_server
from kit.served_calls import ServedCallInterceptor
from kit.service_identity import ServiceCredentials, TrustedServiceKeys, dev_service_key
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import TokenIssuer, TokenVerifier
from services.sessions.access import ACCESS

CALLS = int(os.environ.get("SERVED_CALL_COST_CALLS", "2000"))
ROUNDS = int(os.environ.get("SERVED_CALL_COST_ROUNDS", "5"))
WARM_UP = 300
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def _expire(request: pb.ExpireSessionsRequest, context: Any) -> pb.ExpireSessionsResponse:
    return pb.ExpireSessionsResponse()


async def _get(request: pb.GetSessionRequest, context: Any) -> pb.GetSessionResponse:
    return pb.GetSessionResponse(session=pb.Session(id=request.id))


def _register(server: grpc.aio.Server) -> None:
    """Two methods of the real `SessionsService`, answering at once: only the serving is measured."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "ExpireSessions": grpc.unary_unary_rpc_method_handler(
            _expire,
            request_deserializer=pb.ExpireSessionsRequest.FromString,
            response_serializer=pb.ExpireSessionsResponse.SerializeToString,
        ),
        "GetSession": grpc.unary_unary_rpc_method_handler(
            _get,
            request_deserializer=pb.GetSessionRequest.FromString,
            response_serializer=pb.GetSessionResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(ACCESS.service, handlers),))


def _served() -> ServedService:
    return ServedService(ACCESS.service, _register)


async def _bare_server() -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    _served().register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def _cpu_us_per_call(call: Callable[[], Awaitable[Any]], calls: int = CALLS) -> float:
    """The least CPU per call over several rounds: other work on the machine only ever adds to it."""
    for _ in range(WARM_UP):
        await call()
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(calls):
            await call()
        rounds.append((time.process_time() - started) / calls * 1e6)
    return min(rounds)


def _stack(verifier: TokenVerifier) -> list[grpc.aio.ServerInterceptor]:
    """The interceptors `start_server` installs, for the in-process figures."""
    return [ServedCallInterceptor(CallerCheck(verifier, ACCESS))]


class _HandlerCall(NamedTuple):
    """grpc.HandlerCallDetails as grpc.aio hands it to interceptors."""

    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class _CallWithMetadata:
    """What the interceptors read of a served call's context."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def code(self) -> None:
        return None

    async def abort_with_status(self, status: grpc.Status) -> None:
        raise grpc.aio.AbortError()


async def _intercepted(
    interceptors: list[grpc.aio.ServerInterceptor], details: _HandlerCall, handler: Any
) -> Any:
    """The handler as grpc.aio finds it for each call: every interceptor wraps the next in turn."""

    async def run(index: int, call: Any) -> Any:
        if index == len(interceptors):
            return handler
        return await interceptors[index].intercept_service(functools.partial(run, index + 1), call)

    return await run(0, details)


async def _interception_us(verifier: TokenVerifier, metadata: tuple[tuple[str, str], ...]) -> float:
    """CPU the server's interception adds to one call, beyond finding and running its handler."""
    handler: grpc.RpcMethodHandler[Any, Any] = grpc.unary_unary_rpc_method_handler(_expire)
    details = _HandlerCall(f"/{ACCESS.service}/ExpireSessions", metadata)
    context, request = _CallWithMetadata(metadata), pb.ExpireSessionsRequest(session_ids=[str(uuid.uuid4())])
    stack = _stack(verifier)

    async def intercepted() -> None:
        found = await _intercepted(stack, details, handler)
        await found.unary_unary(request, context)

    async def bare() -> None:
        found = await _intercepted([], details, handler)
        await found.unary_unary(request, context)

    return await _cpu_us_per_call(intercepted, calls=CALLS * 10) - await _cpu_us_per_call(
        bare, calls=CALLS * 10
    )


async def measure(data_dir: Path) -> dict[str, float]:
    customer_key = new_private_pem()
    expiry = ServiceCredentials("expiry", dev_service_key(data_dir, "expiry"))
    customer = TokenIssuer(customer_key, 3600).issue("c-bench", int(time.time()), str(uuid.uuid4()))
    verifier = TokenVerifier(
        public_pem_of(customer_key), TrustedServiceKeys(data_dir / "secrets" / "trusted")
    )
    ids = (("x-request-id", uuid.uuid4().hex), ("traceparent", TRACEPARENT))
    expire = pb.ExpireSessionsRequest(session_ids=[str(uuid.uuid4())])
    get = pb.GetSessionRequest(id=str(uuid.uuid4()))
    as_customer = (("authorization", f"Bearer {customer}"), *ids)

    figures = {"interception alone, in process": await _interception_us(verifier, (*expiry.metadata(), *ids))}
    bare, bare_port = await _bare_server()
    running = await start_server([_served()], port=0, caller_check=CallerCheck(verifier, ACCESS))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}") as channel:
            stub = sessions_pb2_grpc.SessionsServiceStub(channel)
            figures["bare grpc.aio server, no checks"] = await _cpu_us_per_call(
                lambda: stub.ExpireSessions(expire, metadata=(*expiry.metadata(), *ids))
            )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = sessions_pb2_grpc.SessionsServiceStub(channel)
            figures["internal call, service token"] = await _cpu_us_per_call(
                lambda: stub.ExpireSessions(expire, metadata=(*expiry.metadata(), *ids))
            )
            figures["customer call, customer token"] = await _cpu_us_per_call(
                lambda: stub.GetSession(get, metadata=as_customer)
            )
    finally:
        await running.stop(0)
        await bare.stop(0)
    return figures


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(measure(Path(folder)))
    print(f"CPU per served unary call, client and server in one process, best of {ROUNDS} x {CALLS} calls")
    print("(the first line: the server's interceptors alone around a no-op handler, service token)")
    for name, cost in figures.items():
        print(f"{name:<36} {cost:7.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
