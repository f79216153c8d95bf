"""A payment keeps the trace of its checkout, and the arbiter hears of the payment in that trace."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as pb

from kit.trace_context import continued, current_headers
from services.payments.checkout import Checkout
from services.payments.provider_events import ProviderEvents
from tests.fakes.payment_store import FakePaymentStore
from tests.fakes.provider_api import FakeProvider
from tests.fakes.session_arbiter import FakeSessionArbiter

NOW = datetime(2031, 1, 1, tzinfo=UTC)
TOTAL = 24_000


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class TraceHearingArbiter(FakeSessionArbiter):
    """The arbiter in process, noting the trace each payment report arrives in."""

    def __init__(self) -> None:
        super().__init__(now=NOW)
        self.report_traces: list[str] = []

    async def record_payment(self, request: pb.RecordPaymentRequest) -> pb.RecordPaymentResponse:
        self.report_traces.append(current_headers().get("traceparent", ""))
        return await super().record_payment(request)


class World:
    def __init__(self) -> None:
        self.store = FakePaymentStore()
        self.provider = FakeProvider(attempts=3)
        self.arbiter = TraceHearingArbiter()
        self.payments = Checkout(self.store, self.provider, self.arbiter, "http://p.test/hook", lambda: NOW)
        self.events = ProviderEvents(self.store, self.provider, self.arbiter, lambda: NOW)
        self.customer = uuid.uuid4().hex

    async def paid_session(self, checkout_traceparent: str) -> tuple[str, str]:
        session_id = await self.arbiter.open_session(self.customer)
        item = pb.Item(hotel=pb.HotelStay(hold_id="hold-1", hotel_id="HTL-LIS-01", guests=2))
        item.hotel.price.CopyFrom(money_pb2.Money(amount=TOTAL, currency="EUR"))
        await self.arbiter.attach(session_id, self.customer, item)
        with continued(checkout_traceparent):
            _, payment = await self.payments.checkout(self.customer, session_id, "")
        await self.provider.post(f"/payments/{payment.id}/pay", {"outcome": "succeed"}, idempotency_key="pay")
        return session_id, payment.id


async def test_the_checkout_stores_its_trace_and_the_webhook_reports_the_payment_in_it() -> None:
    world = World()
    checkout = new_traceparent()
    session_id, payment_id = await world.paid_session(checkout)
    stored = await world.store.for_session(session_id)
    assert stored is not None and stored.checkout_traceparent == checkout
    webhook = new_traceparent()
    with continued(webhook):
        assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"
        # Only the report is made in the checkout's trace; the webhook's own work stays in its own.
        assert current_headers()["traceparent"] == webhook
    assert world.arbiter.report_traces == [checkout]


async def test_a_payment_stored_without_a_trace_is_reported_in_the_webhooks() -> None:
    world = World()
    session_id, payment_id = await world.paid_session("")
    stored = await world.store.for_session(session_id)
    assert stored is not None and stored.checkout_traceparent is None
    webhook = new_traceparent()
    with continued(webhook):
        assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"
    assert world.arbiter.report_traces == [webhook]


async def test_an_invalid_stored_trace_is_ignored() -> None:
    world = World()
    session_id, payment_id = await world.paid_session("")
    stored = await world.store.for_session(session_id)
    assert stored is not None
    world.store.payments[payment_id] = stored.__class__(**{**stored.__dict__, "checkout_traceparent": "junk"})
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"
    assert world.arbiter.report_traces == [""]
