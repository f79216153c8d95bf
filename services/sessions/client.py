"""The arbiter as other services see it: internal RPCs with a service token, errors as domain errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import grpc
from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from kit.call_context import outgoing_metadata
from kit.grpc_status import error_from_rpc
from kit.retry_policy import idempotent_methods
from kit.service_identity import ServiceCredentials

# Callers check a session id as the arbiter does, before they spend a call on it.
from services.sessions.domain import parse_session_id as parse_session_id

Response = TypeVar("Response")
CALL_TIMEOUT_SECONDS = 10.0
# What a channel to the arbiter lets gRPC retry on UNAVAILABLE: the reads, and the two internal
# calls the arbiter answers the same way twice (a payment already recorded is reported as
# recorded; an expired session stays expired).
RETRIED = idempotent_methods(
    pb.DESCRIPTOR.services_by_name["SessionsService"], also=("RecordPayment", "ExpireSessions")
)


class SessionArbiter(Protocol):
    """The arbiter's internal RPCs as other services call them; errors arrive as domain errors."""

    async def authorize_item_change(self, session_id: str, customer_id: str) -> pb.Session: ...

    async def attach(self, session_id: str, customer_id: str, item: pb.Item) -> pb.AttachItemResponse: ...

    async def begin_checkout(self, session_id: str, customer_id: str) -> pb.Session: ...

    async def reopen_checkout(self, session_id: str) -> pb.Session: ...

    async def record_payment(self, request: pb.RecordPaymentRequest) -> pb.RecordPaymentResponse: ...

    async def expire_many(self, session_ids: Sequence[str]) -> list[str]: ...


class ArbiterClient:
    """The SessionArbiter port over gRPC."""

    def __init__(self, channel: grpc.aio.Channel, credentials: ServiceCredentials) -> None:
        self._stub = sessions_pb2_grpc.SessionsServiceStub(channel)
        self._credentials = credentials

    async def _call(self, method: Callable[..., Awaitable[Response]], request: object) -> Response:
        try:
            metadata = (*self._credentials.metadata(), *outgoing_metadata())
            return await method(request, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            raise error_from_rpc(error) from None

    async def authorize_item_change(self, session_id: str, customer_id: str) -> pb.Session:
        request = pb.AuthorizeItemChangeRequest(session_id=session_id, customer_id=customer_id)
        return (await self._call(self._stub.AuthorizeItemChange, request)).session

    async def attach(self, session_id: str, customer_id: str, item: pb.Item) -> pb.AttachItemResponse:
        request = pb.AttachItemRequest(session_id=session_id, customer_id=customer_id, item=item)
        return await self._call(self._stub.AttachItem, request)

    async def begin_checkout(self, session_id: str, customer_id: str) -> pb.Session:
        request = pb.BeginCheckoutRequest(session_id=session_id, customer_id=customer_id)
        return (await self._call(self._stub.BeginCheckout, request)).session

    async def reopen_checkout(self, session_id: str) -> pb.Session:
        request = pb.ReopenCheckoutRequest(session_id=session_id)
        return (await self._call(self._stub.ReopenCheckout, request)).session

    async def record_payment(self, request: pb.RecordPaymentRequest) -> pb.RecordPaymentResponse:
        return await self._call(self._stub.RecordPayment, request)

    async def expire_many(self, session_ids: Sequence[str]) -> list[str]:
        request = pb.ExpireSessionsRequest(session_ids=list(session_ids))
        return list((await self._call(self._stub.ExpireSessions, request)).expired_session_ids)
