"""Internal channels let gRPC retry UNAVAILABLE on idempotent methods, and on nothing else."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest
from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from kit.channels import peer_channel
from services.sessions.client import RETRIED

pytestmark = pytest.mark.integration


class Flaky(sessions_pb2_grpc.SessionsServiceServicer):
    """Answers UNAVAILABLE to the first call of each method, then succeeds; counts every attempt."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()

    async def _once_unavailable(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.attempts[method] += 1
        if self.attempts[method] == 1:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")

    async def GetSession(
        self, request: pb.GetSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSessionResponse:
        await self._once_unavailable("GetSession", context)
        return pb.GetSessionResponse(session=pb.Session(id=request.id))

    async def RecordPayment(
        self, request: pb.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordPaymentResponse:
        await self._once_unavailable("RecordPayment", context)
        return pb.RecordPaymentResponse()

    async def CreateSession(
        self, request: pb.CreateSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateSessionResponse:
        await self._once_unavailable("CreateSession", context)
        return pb.CreateSessionResponse()

    async def AttachItem(
        self, request: pb.AttachItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.AttachItemResponse:
        await self._once_unavailable("AttachItem", context)
        return pb.AttachItemResponse()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[Flaky, str]]:
    servicer = Flaky()
    server = grpc.aio.server()
    sessions_pb2_grpc.add_SessionsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


async def test_reads_and_declared_idempotent_calls_are_retried_once_unavailable(
    flaky: tuple[Flaky, str],
) -> None:
    servicer, address = flaky
    async with peer_channel(address, retried=RETRIED) as channel:
        stub = sessions_pb2_grpc.SessionsServiceStub(channel)
        read = await stub.GetSession(pb.GetSessionRequest(id="s-1"), timeout=10)
        await stub.RecordPayment(pb.RecordPaymentRequest(session_id="s-1"), timeout=10)
    assert read.session.id == "s-1"
    assert servicer.attempts == Counter({"GetSession": 2, "RecordPayment": 2})


async def test_a_call_that_creates_or_changes_is_not_retried(flaky: tuple[Flaky, str]) -> None:
    servicer, address = flaky
    async with peer_channel(address, retried=RETRIED) as channel:
        stub = sessions_pb2_grpc.SessionsServiceStub(channel)
        for call, request in (
            (stub.CreateSession, pb.CreateSessionRequest()),
            (stub.AttachItem, pb.AttachItemRequest(session_id="s-1")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(request, timeout=10)
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert servicer.attempts == Counter({"CreateSession": 1, "AttachItem": 1})


async def test_without_a_scope_nothing_is_retried(flaky: tuple[Flaky, str]) -> None:
    servicer, address = flaky
    async with peer_channel(address) as channel:
        stub = sessions_pb2_grpc.SessionsServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetSession(pb.GetSessionRequest(id="s-1"), timeout=10)
    assert servicer.attempts == Counter({"GetSession": 1})
