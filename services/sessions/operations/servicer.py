"""gRPC entry point of the operator console: proto in, console use case, proto out."""

from __future__ import annotations

from typing import Any

from travel.operations.v1 import operations_pb2 as pb
from travel.operations.v1 import operations_pb2_grpc

from kit.auth import current_caller
from services.sessions.domain import parse_session_id
from services.sessions.messages import session_message
from services.sessions.operations.console import OperationsConsole
from services.sessions.operations.messages import (
    action_message,
    attention_message,
    lag_message,
    overview_message,
    saga_message,
    state_counts,
)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["OperationsService"].full_name


class OperationsServicer(operations_pb2_grpc.OperationsServiceServicer):
    def __init__(self, console: OperationsConsole) -> None:
        self._console = console

    async def GetOverview(self, request: pb.GetOverviewRequest, context: Any) -> pb.GetOverviewResponse:
        return overview_message(await self._console.overview())

    async def CountSessionsByState(
        self, request: pb.CountSessionsByStateRequest, context: Any
    ) -> pb.CountSessionsByStateResponse:
        return pb.CountSessionsByStateResponse(counts=state_counts(await self._console.counts()))

    async def GetSession(self, request: pb.GetSessionRequest, context: Any) -> pb.GetSessionResponse:
        session = await self._console.session(parse_session_id(request.session_id, "session_id"))
        return pb.GetSessionResponse(session=session_message(session))

    async def ListCustomerSessions(
        self, request: pb.ListCustomerSessionsRequest, context: Any
    ) -> pb.ListCustomerSessionsResponse:
        sessions = await self._console.customer_sessions(request.customer_id)
        return pb.ListCustomerSessionsResponse(sessions=[session_message(s) for s in sessions])

    async def ListSagasInFlight(
        self, request: pb.ListSagasInFlightRequest, context: Any
    ) -> pb.ListSagasInFlightResponse:
        sagas = await self._console.sagas_in_flight()
        return pb.ListSagasInFlightResponse(sagas=[saga_message(saga) for saga in sagas])

    async def ListAttention(self, request: pb.ListAttentionRequest, context: Any) -> pb.ListAttentionResponse:
        waiting = await self._console.attention()
        return pb.ListAttentionResponse(sessions=[attention_message(s, letters) for s, letters in waiting])

    async def ReplayDeadLetter(
        self, request: pb.ReplayDeadLetterRequest, context: Any
    ) -> pb.ReplayDeadLetterResponse:
        # The admin's customer id, as the verified token names it: who replayed, in the record.
        replayed = await self._console.replay(request.entry_id, current_caller().subject)
        return pb.ReplayDeadLetterResponse(
            session_id=replayed.letter.session_id,
            saga_id=replayed.letter.saga_id,
            participant=replayed.letter.participant,
            replayed_entry_id=replayed.new_entry_id,
        )

    async def GetBusLag(self, request: pb.GetBusLagRequest, context: Any) -> pb.GetBusLagResponse:
        return pb.GetBusLagResponse(participants=[lag_message(f) for f in await self._console.lag()])

    async def ListOperatorActions(
        self, request: pb.ListOperatorActionsRequest, context: Any
    ) -> pb.ListOperatorActionsResponse:
        actions = await self._console.actions()
        return pb.ListOperatorActionsResponse(actions=[action_message(action) for action in actions])
