"""The served-call interceptor on a real gRPC server: who is admitted, in what order refusals come,
what the handler sees, and how each call is timed."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from prometheus_client import REGISTRY
from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from kit import errors
from kit.auth import CallerCheck, current_caller
from kit.error_reasons import ErrorReason
from kit.field_rules import VIOLATION_REASON
from kit.grpc_server import ServedService, start_server
from kit.service_identity import ServiceCredentials, TrustedServiceKeys, dev_service_key
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import TokenIssuer, TokenVerifier
from services.sessions.access import ACCESS
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

CALL_TIMEOUT = 10.0


async def _expire(request: pb.ExpireSessionsRequest, context: Any) -> pb.ExpireSessionsResponse:
    """Answers with the calling service's name, as the handler sees it."""
    caller = current_caller()
    return pb.ExpireSessionsResponse(expired_session_ids=[caller.service or ""])


async def _get(request: pb.GetSessionRequest, context: Any) -> pb.GetSessionResponse:
    if request.id.startswith("0"):
        raise errors.NotFound(f"no session {request.id}")
    if request.id.startswith("e"):
        raise errors.FailedPrecondition(
            "session has passed its deadline",
            reason=ErrorReason.SESSION_EXPIRED,
            metadata={"session_id": request.id},
        )
    return pb.GetSessionResponse(session=pb.Session(id=request.id, customer_id=current_caller().subject))


def _register(server: grpc.aio.Server) -> None:
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


class Callers:
    def __init__(self, data_dir: Path, customer_key: bytes) -> None:
        self._data_dir = data_dir
        self.customer_key = customer_key
        self._customers = TokenIssuer(customer_key, 600)

    def service(self, name: str) -> tuple[tuple[str, str], ...]:
        return ServiceCredentials(name, dev_service_key(self._data_dir, name)).metadata()

    def customer(self, customer_id: str) -> tuple[tuple[str, str], ...]:
        token = self._customers.issue(customer_id, now=int(time.time()), token_id=str(uuid.uuid4()))
        return (("authorization", f"Bearer {token}"),)


@pytest.fixture
def callers(tmp_path: Path) -> Callers:
    return Callers(tmp_path, new_private_pem())


@pytest.fixture
async def stub(tmp_path: Path, callers: Callers) -> AsyncIterator[sessions_pb2_grpc.SessionsServiceStub]:
    trusted = TrustedServiceKeys(tmp_path / "secrets" / "trusted")
    verifier = TokenVerifier(public_pem_of(callers.customer_key), trusted)
    server = await start_server(
        [ServedService(ACCESS.service, _register)], port=0, caller_check=CallerCheck(verifier, ACCESS)
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield sessions_pb2_grpc.SessionsServiceStub(channel)
    await server.stop(0)


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def served_count(method: str, code: grpc.StatusCode) -> float:
    labels = {
        "rpc_system": "grpc",
        "rpc_service": ACCESS.service,
        "rpc_method": method,
        "rpc_grpc_status_code": str(code.value[0]),
    }
    return REGISTRY.get_sample_value("rpc_server_duration_seconds_count", labels) or 0.0


async def counted(method: str, code: grpc.StatusCode, expected: float) -> float:
    """The served count once it reached `expected`: the server counts a call after sending its
    status, so the client may hold the answer a moment before the count moves."""
    await eventually(lambda: served_count(method, code) >= expected, what=f"{method} counted as {code.name}")
    return served_count(method, code)


def session_id(first: str = "a") -> str:
    return first + str(uuid.uuid4())[1:]


async def test_an_admitted_service_is_its_handler_s_caller_on_every_call(
    stub: sessions_pb2_grpc.SessionsServiceStub, callers: Callers
) -> None:
    before = served_count("ExpireSessions", grpc.StatusCode.OK)
    as_expiry = callers.service("expiry")
    request = pb.ExpireSessionsRequest(session_ids=[session_id()])
    for _ in range(3):  # the same token each time: verified once, admitted every time
        answer = await stub.ExpireSessions(request, metadata=as_expiry, timeout=CALL_TIMEOUT)
        assert list(answer.expired_session_ids) == ["expiry"]
    assert await counted("ExpireSessions", grpc.StatusCode.OK, before + 3) == before + 3


async def test_the_caller_is_checked_before_the_fields(
    stub: sessions_pb2_grpc.SessionsServiceStub, callers: Callers
) -> None:
    broken = pb.ExpireSessionsRequest(session_ids=["bad\x00id"])
    anonymous = await refused(stub.ExpireSessions(broken, timeout=CALL_TIMEOUT))
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED
    other = await refused(
        stub.ExpireSessions(broken, metadata=callers.service("payments"), timeout=CALL_TIMEOUT)
    )
    assert other.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "does not accept service payments" in (other.details() or "")
    before = served_count("ExpireSessions", grpc.StatusCode.INVALID_ARGUMENT)
    error = await refused(
        stub.ExpireSessions(broken, metadata=callers.service("expiry"), timeout=CALL_TIMEOUT)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    bad, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(bad) and status.details[1].Unpack(info)
    assert [v.field for v in bad.field_violations] == ["sessionIds[0]"]
    assert info.reason == VIOLATION_REASON
    assert await counted("ExpireSessions", grpc.StatusCode.INVALID_ARGUMENT, before + 1) == before + 1


async def test_a_handler_s_domain_error_is_its_status_and_is_timed_under_it(
    stub: sessions_pb2_grpc.SessionsServiceStub, callers: Callers
) -> None:
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    as_customer = callers.customer(customer_id)
    found = await stub.GetSession(pb.GetSessionRequest(id=session_id()), metadata=as_customer)
    assert found.session.customer_id == customer_id
    before = served_count("GetSession", grpc.StatusCode.NOT_FOUND)
    missing = pb.GetSessionRequest(id=session_id("0"))
    error = await refused(stub.GetSession(missing, metadata=as_customer, timeout=CALL_TIMEOUT))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == f"no session {missing.id}"
    assert await counted("GetSession", grpc.StatusCode.NOT_FOUND, before + 1) == before + 1


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo of the google.rpc.Status in the refusal's trailing metadata."""
    [packed] = [v for k, v in error.trailing_metadata() or () if k == "grpc-status-details-bin"]
    status = status_pb2.Status.FromString(packed)
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert len(infos) == 1, status
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    return info


async def test_every_refusal_carries_its_reason_and_the_process_domain_in_its_trailers(
    stub: sessions_pb2_grpc.SessionsServiceStub, callers: Callers
) -> None:
    as_customer = callers.customer(f"c-{uuid.uuid4().hex[:8]}")
    expired_id = session_id("e")
    expired = await refused(
        stub.GetSession(pb.GetSessionRequest(id=expired_id), metadata=as_customer, timeout=CALL_TIMEOUT)
    )
    assert expired.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(expired)
    assert (info.reason, info.domain) == ("SESSION_EXPIRED", "sessions.travel.example")
    assert dict(info.metadata) == {"session_id": expired_id}
    anonymous = await refused(stub.GetSession(pb.GetSessionRequest(id=session_id()), timeout=CALL_TIMEOUT))
    assert error_info(anonymous).reason == "TOKEN_MISSING"
    missing = await refused(
        stub.GetSession(pb.GetSessionRequest(id=session_id("0")), metadata=as_customer, timeout=CALL_TIMEOUT)
    )
    assert error_info(missing).reason == "REFUSED"  # this handler names no reason: its class's default


async def test_a_token_under_another_key_is_refused_after_the_genuine_one_was_admitted(
    stub: sessions_pb2_grpc.SessionsServiceStub, callers: Callers
) -> None:
    request = pb.ExpireSessionsRequest(session_ids=[session_id()])
    await stub.ExpireSessions(request, metadata=callers.service("expiry"), timeout=CALL_TIMEOUT)
    impostor = ServiceCredentials("expiry", new_private_pem()).metadata()
    error = await refused(stub.ExpireSessions(request, metadata=impostor, timeout=CALL_TIMEOUT))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Signature verification failed" in (error.details() or "")
