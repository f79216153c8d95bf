"""Checkout: freeze the session and create its payment at the provider."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from travel.common.v1 import money_pb2
from travel.payments.v1 import payments_pb2 as pb
from travel.sessions.v1 import sessions_pb2 as sessions_pb

from kit.error_reasons import ErrorReason
from kit.errors import (
    DependencyUnavailable,
    DomainError,
    FieldViolation,
    InvalidArgument,
    TransientError,
)
from kit.request_ids import RequestKey
from services.payments.checkout_trace import current_traceparent
from services.payments.ports import PaymentRecord, PaymentStore
from services.provider_client.ports import ProviderApi
from services.sessions.client import SessionArbiter, parse_session_id

log = logging.getLogger(__name__)


def checkout_response(session: sessions_pb.Session, payment: PaymentRecord) -> pb.CheckoutResponse:
    return pb.CheckoutResponse(
        session=session,
        payment=pb.Payment(
            id=payment.id,
            status=payment.status,
            amount=money_pb2.Money(amount=payment.amount, currency=payment.currency),
            pay_url=payment.pay_url,
        ),
    )


def _answered(
    response: bytes, customer_id: str, session_id: str
) -> tuple[sessions_pb.Session, PaymentRecord]:
    """The session and payment a first checkout answered, from its recorded response."""
    first = pb.CheckoutResponse.FromString(response)
    payment = PaymentRecord(
        id=first.payment.id,
        session_id=session_id,
        customer_id=customer_id,
        amount=first.payment.amount.amount,
        currency=first.payment.amount.currency,
        status=first.payment.status,
        pay_url=first.payment.pay_url,
    )
    return first.session, payment


class Checkout:
    def __init__(
        self,
        repository: PaymentStore,
        provider: ProviderApi,
        arbiter: SessionArbiter,
        webhook_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self._provider = provider
        self._arbiter = arbiter
        self._webhook_url = webhook_url
        self._clock = clock

    async def checkout(
        self, customer_id: str, session_id: str, return_url: str, request: RequestKey | None = None
    ) -> tuple[sessions_pb.Session, PaymentRecord]:
        """Check a session out; a `request` seen before answers what its first call answered."""
        session_id = parse_session_id(session_id, "sessionId")
        if return_url and not return_url.startswith(("http://", "https://")):
            raise InvalidArgument(
                FieldViolation("returnUrl", "must be an http(s) URL"), reason=ErrorReason.INVALID_FIELD
            )
        if request is not None:
            first = await self._repository.first_result(request, self._clock())
            if first is not None and first.response is not None:
                return _answered(first.response, customer_id, session_id)
        session = await self._arbiter.begin_checkout(session_id, customer_id)

        def answer(payment: PaymentRecord) -> bytes:
            return checkout_response(session, payment).SerializeToString(deterministic=True)

        existing = await self._repository.for_session(session_id)
        if existing is not None:
            if request is None:
                return session, existing
            # Checking out again is the same checkout: recorded, so its retries answer it too.
            return session, await self._repository.add(existing, self._clock(), request, answer)
        try:
            created = await self._provider.post(
                "/payments",
                {
                    "amount": session.total.amount,
                    "currency": session.total.currency,
                    "reference": session_id,
                    "webhookUrl": self._webhook_url,
                },
                idempotency_key=f"checkout:{session_id}",
            )
        except (TransientError, DomainError) as error:
            await self._reopen(session_id)
            if isinstance(error, TransientError):
                raise DependencyUnavailable(
                    "the payment provider is unavailable; the session is open again, try again"
                ) from None
            raise
        pay_url = str(created["checkoutUrl"])
        if return_url:
            pay_url = f"{pay_url}?{urlencode({'returnUrl': return_url})}"
        record = PaymentRecord(
            id=str(created["id"]),
            session_id=session_id,
            customer_id=customer_id,
            amount=int(created["amount"]),
            currency=str(created["currency"]),
            status=str(created["status"]),
            pay_url=pay_url,
            # The saga this payment's webhook starts joins the customer's trace through it.
            checkout_traceparent=current_traceparent(),
        )
        return session, await self._repository.add(record, self._clock(), request, answer)

    async def _reopen(self, session_id: str) -> None:
        try:
            await self._arbiter.reopen_checkout(session_id)
        except (DomainError, TransientError):
            log.exception("could not reopen session %s after a failed payment creation", session_id)
