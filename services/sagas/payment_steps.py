"""The payments service's saga step: refund a captured payment, exactly once."""

from __future__ import annotations

from collections.abc import Mapping

from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import Retries
from bus.context import Handler, Step, StepContext
from bus.errors import BusinessRefusal, TransientFailure
from kit.errors import NotFound, TransientError
from services.provider_client.client import AmbiguousFailure, ProviderRefusal, for_saga_steps, provider_path
from services.provider_client.ports import ProviderApi
from services.sagas.vocabulary import PAYMENTS_REFUND

REFUSED = pb.REFUSAL_REASON_REFUND_REFUSED  # in compensation a refusal cannot turn back: dead letter


def payment_handlers(provider: ProviderApi) -> Mapping[str, Handler]:
    provider = for_saga_steps(provider)

    async def refund(ctx: StepContext) -> None:
        payment_id = ctx.arguments["payment_id"]
        try:
            await provider.post_unambiguous(
                provider_path("payments", payment_id, "refund"), None, idempotency_key=ctx.idempotency_key
            )
        except ProviderRefusal as refusal:
            raise BusinessRefusal(f"refund refused: {refusal.code}: {refusal.message}", REFUSED) from refusal
        except NotFound as unknown:
            raise BusinessRefusal(f"refund refused: payment {payment_id} is unknown", REFUSED) from unknown
        except AmbiguousFailure as error:
            # The refund may have gone through: the provider's record decides.
            try:
                payment = await provider.get(provider_path("payments", payment_id))
            except TransientError as unreadable:
                raise TransientFailure(f"{error}; cannot read payment {payment_id}: {unreadable}") from error
            if payment.get("status") != "REFUNDED":
                raise TransientFailure(f"refund of {payment_id} did not take effect: {error}") from error
        except TransientError as error:
            raise TransientFailure(str(error)) from error

    # Money taken must go back: the refund keeps retrying for long.
    return {PAYMENTS_REFUND.name: Step(refund, Retries.MUST_FINISH)}
