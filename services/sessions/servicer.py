"""gRPC entry point of the arbiter: proto in, arbiter use case, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from kit.auth import current_caller
from kit.error_reasons import ErrorReason
from kit.errors import DependencyUnavailable, FieldViolation, InvalidArgument
from kit.request_ids import request_key
from services.sessions.arbiter import Arbiter
from services.sessions.domain import parse_session_id
from services.sessions.events import SessionTimeline
from services.sessions.messages import (
    item_message,
    item_of,
    payment_outcome_message,
    payment_report_of,
    session_message,
)
from services.sessions.page_tokens import decode_page_token, encode_page_token
from services.sessions.watches import SessionWatches

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SessionsService"].full_name
MAX_PAGE = 100
MAX_EXPIRE_BATCH = 500


def _customer() -> str:
    return current_caller().subject


def _page(request: pb.ListSessionsRequest) -> tuple[int, int]:
    size = request.page_size or 20
    if not 0 < size <= MAX_PAGE:
        raise InvalidArgument(
            FieldViolation("pageSize", f"must be between 0 and {MAX_PAGE}"), reason=ErrorReason.INVALID_FIELD
        )
    return size, decode_page_token(request.page_token) if request.page_token else 0


class SessionsServicer(sessions_pb2_grpc.SessionsServiceServicer):
    def __init__(
        self, arbiter: Arbiter, timeline: SessionTimeline, watches: SessionWatches | None = None
    ) -> None:
        self._arbiter = arbiter
        self._timeline = timeline
        self._watches = watches

    async def CreateSession(self, request: pb.CreateSessionRequest, context: Any) -> pb.CreateSessionResponse:
        customer = _customer()
        session = await self._arbiter.open(customer, request_key(customer, request))
        return pb.CreateSessionResponse(session=session_message(session))

    async def GetSession(self, request: pb.GetSessionRequest, context: Any) -> pb.GetSessionResponse:
        session = await self._arbiter.get_owned(parse_session_id(request.id), _customer())
        return pb.GetSessionResponse(session=session_message(session))

    async def ListSessions(self, request: pb.ListSessionsRequest, context: Any) -> pb.ListSessionsResponse:
        size, offset = _page(request)
        sessions = await self._arbiter.list_owned(_customer(), size + 1, offset)
        token = encode_page_token(offset + size) if len(sessions) > size else ""
        return pb.ListSessionsResponse(
            sessions=[session_message(s) for s in sessions[:size]], next_page_token=token
        )

    async def CancelSession(self, request: pb.CancelSessionRequest, context: Any) -> pb.CancelSessionResponse:
        session = await self._arbiter.customer_cancel(parse_session_id(request.id), _customer())
        return pb.CancelSessionResponse(session=session_message(session))

    async def ListSessionEvents(
        self, request: pb.ListSessionEventsRequest, context: Any
    ) -> pb.ListSessionEventsResponse:
        session, events = await self._timeline.owned(parse_session_id(request.id), _customer())
        return pb.ListSessionEventsResponse(events=events, session=session_message(session))

    async def WatchSession(
        self, request: pb.WatchSessionRequest, context: Any
    ) -> AsyncIterator[pb.WatchSessionResponse]:
        session_id = parse_session_id(request.id)
        if self._watches is None:
            raise DependencyUnavailable("this sessions server does not serve watches")
        async for response in self._watches.watch(session_id, _customer(), request.after_sequence):
            yield response

    async def AuthorizeItemChange(
        self, request: pb.AuthorizeItemChangeRequest, context: Any
    ) -> pb.AuthorizeItemChangeResponse:
        session = await self._arbiter.authorize_item_change(
            parse_session_id(request.session_id, "session_id"), request.customer_id
        )
        return pb.AuthorizeItemChangeResponse(session=session_message(session))

    async def AttachItem(self, request: pb.AttachItemRequest, context: Any) -> pb.AttachItemResponse:
        session, replaced = await self._arbiter.attach(
            parse_session_id(request.session_id, "session_id"), request.customer_id, item_of(request.item)
        )
        response = pb.AttachItemResponse(session=session_message(session))
        if replaced is not None:
            response.replaced.CopyFrom(item_message(replaced))
        return response

    async def BeginCheckout(self, request: pb.BeginCheckoutRequest, context: Any) -> pb.BeginCheckoutResponse:
        session = await self._arbiter.begin_checkout(
            parse_session_id(request.session_id, "session_id"), request.customer_id
        )
        return pb.BeginCheckoutResponse(session=session_message(session))

    async def ReopenCheckout(
        self, request: pb.ReopenCheckoutRequest, context: Any
    ) -> pb.ReopenCheckoutResponse:
        session = await self._arbiter.reopen_checkout(parse_session_id(request.session_id, "session_id"))
        return pb.ReopenCheckoutResponse(session=session_message(session))

    async def RecordPayment(self, request: pb.RecordPaymentRequest, context: Any) -> pb.RecordPaymentResponse:
        session_id = parse_session_id(request.session_id, "session_id")
        result = await self._arbiter.record_payment(session_id, payment_report_of(request))
        return pb.RecordPaymentResponse(
            session=session_message(result.session),
            refund_started=result.refund_started,
            outcome=payment_outcome_message(result.outcome),
        )

    async def ExpireSessions(
        self, request: pb.ExpireSessionsRequest, context: Any
    ) -> pb.ExpireSessionsResponse:
        if len(request.session_ids) > MAX_EXPIRE_BATCH:
            raise InvalidArgument(
                FieldViolation("session_ids", f"at most {MAX_EXPIRE_BATCH} per call"),
                reason=ErrorReason.INVALID_FIELD,
            )
        ids = [parse_session_id(sid, "session_ids") for sid in request.session_ids]
        return pb.ExpireSessionsResponse(expired_session_ids=await self._arbiter.expire_many(ids))
