"""gRPC entry point of the payments service."""

from __future__ import annotations

from typing import Any

from travel.payments.v1 import payments_pb2 as pb
from travel.payments.v1 import payments_pb2_grpc

from kit.auth import current_caller
from kit.request_ids import request_key
from services.payments.checkout import Checkout, checkout_response
from services.payments.provider_events import ProviderEvents

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PaymentsService"].full_name


class PaymentsServicer(payments_pb2_grpc.PaymentsServiceServicer):
    def __init__(self, checkout: Checkout, events: ProviderEvents) -> None:
        self._checkout = checkout
        self._events = events

    async def Checkout(self, request: pb.CheckoutRequest, context: Any) -> pb.CheckoutResponse:
        customer = current_caller().subject
        session, payment = await self._checkout.checkout(
            customer, request.session_id, request.return_url, request_key(customer, request)
        )
        return checkout_response(session, payment)

    async def HandleProviderEvent(
        self, request: pb.HandleProviderEventRequest, context: Any
    ) -> pb.HandleProviderEventResponse:
        # The event's reference and amount are not trusted: the provider's record is read instead.
        result = await self._events.handle(request.event_id, request.type, request.payment_id)
        return pb.HandleProviderEventResponse(duplicate=result == "DUPLICATE", result=result)
