"""The hotel service's saga steps: confirm and cancel the session's stay at the provider."""

from __future__ import annotations

from collections.abc import Mapping

from bus.context import Handler, StepContext
from services.booking.hold_steps import cancel_hold, confirm_hold, release_step
from services.booking.provider_client import ProviderClient


def hotel_handlers(provider: ProviderClient) -> Mapping[str, Handler]:
    async def confirm(ctx: StepContext) -> Mapping[str, str]:
        hold_id = ctx.arguments["hold_id"]
        await confirm_hold(provider, hold_id, ctx.idempotency_key, "HOTEL_REJECTED")
        return {"hold_id": hold_id}

    async def cancel(ctx: StepContext) -> None:
        await cancel_hold(provider, ctx.arguments["hold_id"], ctx.idempotency_key)

    return {"hotel.confirm": confirm, "hotel.cancel": cancel, "hotel.release": release_step(provider)}
