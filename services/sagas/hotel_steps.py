"""The hotel service's saga steps: confirm, cancel and release the session's stay at the provider."""

from __future__ import annotations

from collections.abc import Mapping

from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import Retries
from bus.context import Handler, Step, StepContext
from services.provider_client.client import for_saga_steps
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog
from services.sagas.hold_steps import cancel_hold, confirm_hold, release_step, release_strays
from services.sagas.vocabulary import HOTEL_CANCEL, HOTEL_CONFIRM, HOTEL_RELEASE


def hotel_handlers(provider: ProviderApi, attempts: AttemptLog) -> Mapping[str, Handler]:
    provider = for_saga_steps(provider)

    async def confirm(ctx: StepContext) -> Mapping[str, str]:
        hold_id = ctx.arguments["hold_id"]
        hold = await confirm_hold(provider, hold_id, ctx.idempotency_key, pb.REFUSAL_REASON_HOTEL_REJECTED)
        await release_strays(provider, attempts, HOTEL_CONFIRM.participant, ctx, [hold])
        return {"hold_id": hold_id}

    async def cancel(ctx: StepContext) -> None:
        await cancel_hold(provider, ctx.arguments["hold_id"], ctx.idempotency_key)

    return {
        # Still compensatable: after its budget an operator decides, rather than a saga held forever.
        HOTEL_CONFIRM.name: Step(confirm, Retries.BOUNDED),
        # Undoing and letting go must finish, or the provider keeps a room nobody pays for.
        HOTEL_CANCEL.name: Step(cancel, Retries.MUST_FINISH),
        HOTEL_RELEASE.name: Step(release_step(provider), Retries.MUST_FINISH),
    }
