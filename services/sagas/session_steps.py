"""The arbiter's saga steps: settle a session when its saga is done."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import Retries
from bus.context import Handler, Step, StepContext
from bus.errors import TransientFailure
from kit.errors import Conflict, TransientError
from services.sagas.vocabulary import SESSIONS_CANCELLED, SESSIONS_COMPLETE
from services.sessions.domain import Reason

_REJECTIONS: dict[pb.RefusalReason.ValueType, Reason] = {
    pb.REFUSAL_REASON_HOTEL_REJECTED: Reason.HOTEL_REJECTED,
    pb.REFUSAL_REASON_FLIGHT_REJECTED: Reason.FLIGHT_REJECTED,
}


class Settler(Protocol):
    """What these steps need of the arbiter (services/sessions/arbiter.py): its two settling moves."""

    async def complete(self, session_id: str) -> object: ...

    async def finish_cancellation(self, session_id: str, reason_if_confirming: Reason) -> object: ...


def rejection_reason(refusal: pb.RefusalReason.ValueType) -> Reason:
    """The session's reason for a saga that compensated, from the refusal's typed reason on the slip."""
    return _REJECTIONS.get(refusal, Reason.COMPENSATION_FAILED)


def session_handlers(arbiter: Settler) -> Mapping[str, Handler]:
    async def complete(ctx: StepContext) -> None:
        try:
            await arbiter.complete(ctx.session_id)
        except (Conflict, TransientError) as error:
            raise TransientFailure(str(error)) from error

    async def cancelled(ctx: StepContext) -> None:
        try:
            await arbiter.finish_cancellation(ctx.session_id, rejection_reason(ctx.refusal_reason))
        except (Conflict, TransientError) as error:
            raise TransientFailure(str(error)) from error

    # Both settle a saga that can no longer turn back: the session must reach its end state.
    return {
        SESSIONS_COMPLETE.name: Step(complete, Retries.MUST_FINISH),
        SESSIONS_CANCELLED.name: Step(cancelled, Retries.MUST_FINISH),
    }
