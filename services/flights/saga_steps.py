"""The flights service's saga steps: confirm and cancel both legs of the session's round trip."""

from __future__ import annotations

from collections.abc import Mapping

from bus.context import Handler, StepContext
from services.booking.hold_steps import cancel_hold, confirm_hold, release_step
from services.booking.provider_client import ProviderClient

LEGS = ("outbound_hold_id", "return_hold_id")


def flight_handlers(provider: ProviderClient) -> Mapping[str, Handler]:
    async def confirm(ctx: StepContext) -> Mapping[str, str]:
        for leg in LEGS:
            await confirm_hold(
                provider, ctx.arguments[leg], f"{ctx.idempotency_key}:{leg}", "FLIGHT_REJECTED"
            )
        return {leg: ctx.arguments[leg] for leg in LEGS}

    async def cancel(ctx: StepContext) -> None:
        # Return leg first: undo in the reverse order of confirmation.
        for leg in reversed(LEGS):
            await cancel_hold(provider, ctx.arguments[leg], f"{ctx.idempotency_key}:{leg}")

    return {"flights.confirm": confirm, "flights.cancel": cancel, "flights.release": release_step(provider)}
