"""The arbiter's saga steps: settle a session when its saga is done."""

from __future__ import annotations

from collections.abc import Mapping

from bus.context import Handler, StepContext
from bus.errors import TransientFailure
from services.kit.errors import Conflict, TransientError
from services.sessions.arbiter import Arbiter
from services.sessions.domain import Reason

_REJECTIONS = {reason.value: reason for reason in (Reason.HOTEL_REJECTED, Reason.FLIGHT_REJECTED)}


def rejection_reason(failure: str) -> Reason:
    """The machine-readable reason a confirmation failed, from the refusal that turned the saga."""
    code = failure.split(":", 1)[0].strip()
    return _REJECTIONS.get(code, Reason.COMPENSATION_FAILED)


def session_handlers(arbiter: Arbiter) -> Mapping[str, Handler]:
    async def complete(ctx: StepContext) -> None:
        try:
            await arbiter.complete(ctx.session_id)
        except (Conflict, TransientError) as error:
            raise TransientFailure(str(error)) from None

    async def cancelled(ctx: StepContext) -> None:
        try:
            await arbiter.finish_cancellation(ctx.session_id, rejection_reason(ctx.failure_reason))
        except (Conflict, TransientError) as error:
            raise TransientFailure(str(error)) from None

    return {"sessions.complete": complete, "sessions.cancelled": cancelled}
