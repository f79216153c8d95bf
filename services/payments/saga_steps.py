"""The payments service's saga step: refund a captured payment, exactly once."""

from __future__ import annotations

from collections.abc import Mapping

from bus.context import Handler, StepContext
from bus.errors import BusinessRefusal, TransientFailure
from services.booking.provider_client import AmbiguousFailure, ProviderClient, ProviderRefusal
from services.kit.errors import NotFound, TransientError


def payment_handlers(provider: ProviderClient) -> Mapping[str, Handler]:
    async def refund(ctx: StepContext) -> None:
        payment_id = ctx.arguments["payment_id"]
        try:
            await provider.post_unambiguous(
                f"/payments/{payment_id}/refund", None, idempotency_key=ctx.idempotency_key
            )
        except ProviderRefusal as refusal:
            raise BusinessRefusal(f"REFUND_REFUSED: {refusal.code}: {refusal.message}") from None
        except NotFound:
            raise BusinessRefusal(f"REFUND_REFUSED: payment {payment_id} is unknown") from None
        except AmbiguousFailure as error:
            # The refund may have gone through: the provider's record decides.
            try:
                payment = await provider.get(f"/payments/{payment_id}")
            except TransientError:
                raise TransientFailure(str(error)) from None
            if payment.get("status") != "REFUNDED":
                raise TransientFailure(f"refund of {payment_id} did not take effect: {error}") from None
        except TransientError as error:
            raise TransientFailure(str(error)) from None

    return {"payments.refund": refund}
