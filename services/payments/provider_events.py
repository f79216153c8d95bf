"""Provider events as hints: each names a payment, which is read from the provider, whose record decides."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from opentelemetry import trace
from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as sessions_pb

from kit.error_reasons import ErrorReason
from kit.errors import DependencyUnavailable, DomainError, NotFound
from services.payments.checkout_trace import in_checkout_trace
from services.payments.ports import PaymentRecord, PaymentStore
from services.payments.verification import (
    ExpectedPayment,
    ProviderPayment,
    Verdict,
    check_event,
    earlier_statuses,
    provider_payment_of,
    verdict,
)
from services.provider_client.ports import ProviderApi
from services.sessions.client import SessionArbiter

# Below the gateway's 10 s call timeout, so a provider that hangs still yields a clean 503.
READ_SECONDS = 6.0

_OUTCOMES = {
    Verdict.CAPTURED: sessions_pb.PAYMENT_OUTCOME_SUCCEEDED,
    Verdict.MISMATCH: sessions_pb.PAYMENT_OUTCOME_MISMATCHED,
    Verdict.DECLINED: sessions_pb.PAYMENT_OUTCOME_DECLINED,
}


class ProviderEvents:
    def __init__(
        self,
        repository: PaymentStore,
        provider: ProviderApi,
        arbiter: SessionArbiter,
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self._provider = provider
        self._arbiter = arbiter
        self._clock = clock

    async def handle(self, event_id: str, event_type: str, payment_id: str) -> str:
        """Apply what the provider records for the event's payment, once per event id.

        Nothing is recorded when the provider cannot be read: the error reaches the provider as a
        503, and it delivers the event again. No transaction is open while the provider or the
        arbiter is called: one short transaction claims the event and stores the payment's status,
        the arbiter hears of the payment, and a second one marks the event reported.
        """
        check_event(event_id, event_type, payment_id)
        # The webhook's own span, while it is current: the saga's trace links back to it.
        event_span = trace.get_current_span()
        handled, record = await self._repository.lookup(event_id, payment_id)
        if handled:
            return "DUPLICATE"
        payment = await self._read(payment_id)
        record = await self._checked_out(payment, record)
        expected = ExpectedPayment(record.id, record.session_id, record.amount, record.currency)
        found = verdict(payment, expected)
        if found is Verdict.PENDING:
            # Nothing happened yet; the event is not remembered, so a redelivery is read afresh.
            return "PENDING"
        outcome = _OUTCOMES.get(found)
        claimed = await self._repository.claim_event(
            event_id,
            event_type,
            payment_id,
            payment.status,
            earlier_statuses(payment.status),
            self._clock(),
            to_report=outcome is not None,
        )
        if not claimed:
            # Handled since this delivery looked: another delivery claimed and reported it.
            return "DUPLICATE"
        if outcome is None:
            return "RECORDED" if found is Verdict.REFUNDED else "IGNORED"
        result = await self._report(outcome, payment, expected, in_checkout_trace(record, event_span))
        await self._repository.mark_reported(event_id)
        return result

    async def _read(self, payment_id: str) -> ProviderPayment:
        try:
            async with asyncio.timeout(READ_SECONDS):
                body = await self._provider.get(f"/payments/{quote(payment_id, safe='')}")
        except TimeoutError:
            raise DependencyUnavailable("the payment provider did not answer in time") from None
        except NotFound:
            raise NotFound(
                f"the payment provider has no payment {payment_id!r}", reason=ErrorReason.PAYMENT_NOT_FOUND
            ) from None
        return provider_payment_of(payment_id, body)

    async def _checked_out(self, payment: ProviderPayment, record: PaymentRecord | None) -> PaymentRecord:
        """The checkout the payment answers: by this payment's id, else by the session it names."""
        if record is None:
            record = await self._repository.for_session(payment.reference)
        if record is None:
            raise NotFound(
                f"payment {payment.id} is for no session checked out here",
                reason=ErrorReason.PAYMENT_NOT_FOUND,
            )
        return record

    async def _report(
        self,
        outcome: sessions_pb.PaymentOutcome.ValueType,
        payment: ProviderPayment,
        expected: ExpectedPayment,
        trace_scope: in_checkout_trace,
    ) -> str:
        """Tell the arbiter; made again by every delivery of an event claimed and not yet reported.

        That is safe because the arbiter applies a repeated report of one payment once: a session
        that already moved on with this payment answers as before and changes nothing
        (`Arbiter.record_payment`), and a capture it refunds again gets the same saga id
        (`refund-<payment>`), whose repeated start the bus refuses by its step marker and whose
        refund reaches the provider under the same idempotency key.
        """
        request = sessions_pb.RecordPaymentRequest(
            session_id=expected.session_id,
            payment_id=payment.id,
            outcome=outcome,
            amount=money_pb2.Money(amount=payment.amount, currency=payment.currency),
            reference=payment.reference,
        )
        try:
            # The saga the arbiter starts now (confirm, cancel or refund) is stamped with this call's trace.
            with trace_scope:
                answer = await self._arbiter.record_payment(request)
        except DomainError as error:
            # The event stays pending whatever the refusal: a 503 has the provider deliver it again.
            raise DependencyUnavailable(
                f"the sessions service did not take payment {payment.id}'s report: {error}"
            ) from error
        if answer.refund_started:
            return "REFUND_STARTED"
        if answer.outcome == sessions_pb.PAYMENT_OUTCOME_MISMATCHED:
            return "MISMATCH"
        return "APPLIED"
