"""The flights service's saga steps: confirm and cancel both legs of the session's round trip, held as one."""

from __future__ import annotations

from collections.abc import Mapping

from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import Retries
from bus.context import Handler, Step, StepContext
from services.provider_client.client import for_saga_steps
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog
from services.sagas.hold_steps import cancel_hold, confirm_hold, release_step, release_strays
from services.sagas.vocabulary import FLIGHTS_CANCEL, FLIGHTS_CONFIRM, FLIGHTS_RELEASE

LEGS = ("outbound_hold_id", "return_hold_id")


def _holds(ctx: StepContext) -> list[tuple[str, str]]:
    """(leg, hold) once per hold: both legs name the same hold when held together, as one."""
    seen: dict[str, str] = {}
    for leg in LEGS:
        seen.setdefault(ctx.arguments[leg], leg)
    return [(leg, hold_id) for hold_id, leg in seen.items()]


def flight_handlers(provider: ProviderApi, attempts: AttemptLog) -> Mapping[str, Handler]:
    provider = for_saga_steps(provider)

    async def confirm(ctx: StepContext) -> Mapping[str, str]:
        confirmed = [
            await confirm_hold(
                provider,
                hold_id,
                f"{ctx.idempotency_key}:{leg}",
                pb.REFUSAL_REASON_FLIGHT_REJECTED,
            )
            for leg, hold_id in _holds(ctx)
        ]
        await release_strays(provider, attempts, FLIGHTS_CONFIRM.participant, ctx, confirmed)
        return {leg: ctx.arguments[leg] for leg in LEGS}

    async def cancel(ctx: StepContext) -> None:
        # Return leg first: undo in the reverse order of confirmation.
        for leg, hold_id in reversed(_holds(ctx)):
            await cancel_hold(provider, hold_id, f"{ctx.idempotency_key}:{leg}")

    return {
        # Still compensatable: after its budget an operator decides, rather than a saga held forever.
        FLIGHTS_CONFIRM.name: Step(confirm, Retries.BOUNDED),
        # Undoing and letting go must finish, or the provider keeps seats nobody pays for.
        FLIGHTS_CANCEL.name: Step(cancel, Retries.MUST_FINISH),
        FLIGHTS_RELEASE.name: Step(release_step(provider), Retries.MUST_FINISH),
    }
