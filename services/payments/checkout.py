"""Payment use cases: check a session out, apply the provider's events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from travel.sessions.v1 import sessions_pb2 as sessions_pb

from services.booking.provider_client import ProviderClient
from services.kit.errors import (
    DependencyUnavailable,
    DomainError,
    FieldViolation,
    InvalidArgument,
    NotFound,
    TransientError,
)
from services.payments.repository import PaymentRecord, PaymentRepository
from services.sessions.client import ArbiterClient
from services.sessions.domain import parse_session_id

log = logging.getLogger(__name__)

EVENT_OUTCOMES = {
    "payment.succeeded": sessions_pb.PAYMENT_OUTCOME_SUCCEEDED,
    "payment.failed": sessions_pb.PAYMENT_OUTCOME_DECLINED,
}
EVENT_STATUSES = {
    "payment.succeeded": "SUCCEEDED",
    "payment.failed": "DECLINED",
    "refund.succeeded": "REFUNDED",
}


class Payments:
    def __init__(
        self,
        repository: PaymentRepository,
        provider: ProviderClient,
        arbiter: ArbiterClient,
        webhook_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self._provider = provider
        self._arbiter = arbiter
        self._webhook_url = webhook_url
        self._clock = clock

    async def checkout(
        self, customer_id: str, session_id: str, return_url: str
    ) -> tuple[sessions_pb.Session, PaymentRecord]:
        session_id = parse_session_id(session_id, "sessionId")
        if return_url and not return_url.startswith(("http://", "https://")):
            raise InvalidArgument(FieldViolation("returnUrl", "must be an http(s) URL"))
        session = await self._arbiter.begin_checkout(session_id, customer_id)
        existing = await self._repository.for_session(session_id)
        if existing is not None:
            return session, existing
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
        )
        return session, await self._repository.add(record, self._clock())

    async def _reopen(self, session_id: str) -> None:
        try:
            await self._arbiter.reopen_checkout(session_id)
        except (DomainError, TransientError):
            log.exception("could not reopen session %s after a failed payment creation", session_id)

    async def handle_event(self, event_id: str, event_type: str, payment_id: str, reference: str) -> str:
        """Apply a verified provider event once; repeated event ids are acknowledged and ignored."""
        violations = []
        if not event_id:
            violations.append(FieldViolation("id", "is required"))
        if event_type not in EVENT_STATUSES:
            violations.append(FieldViolation("type", f"unknown event type {event_type!r}"))
        if not payment_id:
            violations.append(FieldViolation("data.paymentId", "is required"))
        if violations:
            raise InvalidArgument(violations)
        if await self._repository.seen(event_id):
            return "DUPLICATE"
        record = await self._repository.get(payment_id)
        if record is None:
            raise NotFound(f"unknown payment {payment_id!r}")
        if reference and reference != record.session_id:
            raise InvalidArgument(FieldViolation("data.reference", "does not match the payment's session"))
        result = "RECORDED"
        outcome = EVENT_OUTCOMES.get(event_type)
        if outcome is not None:
            answer = await self._arbiter.record_payment(record.session_id, payment_id, outcome)
            result = "REFUND_STARTED" if answer.refund_started else "APPLIED"
        await self._repository.set_status(payment_id, EVENT_STATUSES[event_type], self._clock())
        await self._repository.mark_seen(event_id, event_type, payment_id, self._clock())
        return result
