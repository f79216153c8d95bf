"""Checkout and provider events: what reaches the provider, the arbiter and the payment store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from travel.common.v1 import money_pb2
from travel.payments.v1 import payments_pb2 as payments_pb
from travel.sessions.v1 import sessions_pb2 as pb

from kit.errors import Conflict, DependencyUnavailable, InvalidArgument, NotFound
from kit.request_ids import RequestKey, request_key
from services.payments.checkout import Checkout
from services.payments.provider_events import ProviderEvents
from services.provider_client.client import AmbiguousFailure
from services.sagas.definitions import refund_slip
from tests.fakes.payment_store import FakePaymentStore
from tests.fakes.provider_api import FakeProvider
from tests.fakes.session_arbiter import FakeSessionArbiter

WEBHOOK = "http://payments.test/webhooks/payments"
NOW = datetime(2031, 1, 1, tzinfo=UTC)
TOTAL = 24_000


class World:
    def __init__(self) -> None:
        self.store = FakePaymentStore()
        self.provider = FakeProvider(attempts=3)
        self.arbiter = FakeSessionArbiter(now=NOW)
        self.payments = Checkout(self.store, self.provider, self.arbiter, WEBHOOK, lambda: NOW)
        self.events = ProviderEvents(self.store, self.provider, self.arbiter, lambda: NOW)
        self.customer = uuid.uuid4().hex

    async def session_with_a_stay(self) -> str:
        session_id = await self.arbiter.open_session(self.customer)
        item = pb.Item(hotel=pb.HotelStay(hold_id="hold-1", hotel_id="HTL-LIS-01", guests=2))
        item.hotel.price.CopyFrom(money_pb2.Money(amount=TOTAL, currency="EUR"))
        await self.arbiter.attach(session_id, self.customer, item)
        return session_id

    async def state(self, session_id: str) -> str:
        session = await self.arbiter.arbiter.get(session_id)
        return session.state.value

    async def paid(self, payment_id: str, outcome: str = "succeed") -> None:
        await self.provider.post(
            f"/payments/{payment_id}/pay", {"outcome": outcome}, idempotency_key=uuid.uuid4().hex
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_checkout_asks_the_provider_for_the_session_total_once(world: World) -> None:
    session_id = await world.session_with_a_stay()
    session, payment = await world.payments.checkout(world.customer, session_id, "https://shop.test/back?x=1")
    assert session.state == pb.STATE_PAYMENT_PENDING
    [created] = world.provider.payments.values()
    assert (created["amount"], created["currency"], created["reference"]) == (TOTAL, "EUR", session_id)
    assert created["webhookUrl"] == WEBHOOK
    assert payment.id == created["id"] and payment.status == "PENDING"
    assert payment.pay_url == f"{created['checkoutUrl']}?returnUrl=https%3A%2F%2Fshop.test%2Fback%3Fx%3D1"
    _, again = await world.payments.checkout(world.customer, session_id, "")
    assert again == payment and len(world.provider.payments) == 1


async def test_a_lost_answer_on_payment_creation_is_retried_under_the_same_key(world: World) -> None:
    session_id = await world.session_with_a_stay()
    world.provider.fail_next("POST", "/payments", AmbiguousFailure("timed out"), after_effect=True)
    _, payment = await world.payments.checkout(world.customer, session_id, "")
    assert list(world.provider.payments) == [payment.id]


async def test_a_provider_that_cannot_take_the_payment_reopens_the_session(world: World) -> None:
    session_id = await world.session_with_a_stay()
    for _ in range(3):
        world.provider.fail_next("POST", "/payments", DependencyUnavailable("down"))
    with pytest.raises(DependencyUnavailable, match="open again"):
        await world.payments.checkout(world.customer, session_id, "")
    assert await world.state(session_id) == "OPEN"
    assert await world.store.for_session(session_id) is None
    world.provider.fail_next("POST", "/payments", InvalidArgument([]))
    with pytest.raises(InvalidArgument):
        await world.payments.checkout(world.customer, session_id, "")
    assert await world.state(session_id) == "OPEN"


async def test_a_bad_return_url_or_session_id_is_refused_before_anything_moves(world: World) -> None:
    session_id = await world.session_with_a_stay()
    with pytest.raises(InvalidArgument):
        await world.payments.checkout(world.customer, session_id, "javascript:alert(1)")
    with pytest.raises(InvalidArgument):
        await world.payments.checkout(world.customer, "not-a-session", "")
    assert await world.state(session_id) == "OPEN" and world.provider.calls == []


async def checked_out(world: World) -> tuple[str, str]:
    session_id = await world.session_with_a_stay()
    _, payment = await world.payments.checkout(world.customer, session_id, "")
    return session_id, payment.id


async def test_a_captured_payment_confirms_the_session_once(world: World) -> None:
    session_id, payment_id = await checked_out(world)
    await world.paid(payment_id)
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"
    assert await world.state(session_id) == "CONFIRMING"
    assert world.arbiter.sagas.kinds(session_id) == ["confirm"]
    stored = await world.store.for_session(session_id)
    assert stored is not None and stored.status == "SUCCEEDED"
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "DUPLICATE"
    assert world.arbiter.calls.count("record_payment") == 1


async def test_an_event_before_anything_happened_is_not_remembered(world: World) -> None:
    _, payment_id = await checked_out(world)
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "PENDING"
    assert world.store.handled == {}
    await world.paid(payment_id)
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"


async def test_a_declined_payment_cancels_the_session(world: World) -> None:
    session_id, payment_id = await checked_out(world)
    await world.paid(payment_id, "decline")
    assert await world.events.handle("evt-1", "payment.failed", payment_id) == "APPLIED"
    session = await world.arbiter.arbiter.get(session_id)
    assert (session.state.value, session.reason) == ("CANCELLING", "PAYMENT_DECLINED")


async def test_a_capture_of_another_amount_for_the_session_is_a_mismatch(world: World) -> None:
    session_id, _ = await checked_out(world)
    body = {"amount": TOTAL - 1, "currency": "EUR", "reference": session_id, "webhookUrl": WEBHOOK}
    other = await world.provider.post("/payments", body, idempotency_key="elsewhere")
    await world.paid(other["id"])
    assert await world.events.handle("evt-9", "payment.succeeded", other["id"]) == "MISMATCH"
    session = await world.arbiter.arbiter.get(session_id)
    assert (session.state.value, session.reason) == ("CANCELLING", "PAYMENT_MISMATCH")


async def test_a_capture_after_the_deadline_is_refunded(world: World) -> None:
    session_id, payment_id = await checked_out(world)
    world.arbiter.advance(timedelta(minutes=11))
    await world.paid(payment_id)
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "REFUND_STARTED"
    assert world.arbiter.sagas.kinds(session_id) == ["refund"]


async def test_a_refund_is_recorded_without_asking_the_arbiter(world: World) -> None:
    session_id, payment_id = await checked_out(world)
    await world.paid(payment_id)
    await world.provider.post(f"/payments/{payment_id}/refund", None, idempotency_key="refund")
    assert await world.events.handle("evt-2", "refund.succeeded", payment_id) == "RECORDED"
    stored = await world.store.for_session(session_id)
    assert stored is not None and stored.status == "REFUNDED"
    assert "record_payment" not in world.arbiter.calls


async def test_events_naming_nothing_we_know_are_refused_and_not_remembered(world: World) -> None:
    with pytest.raises(NotFound):
        await world.events.handle("evt-1", "payment.succeeded", "pay_unknown")
    stranger = {"amount": 100, "currency": "EUR", "reference": str(uuid.uuid4()), "webhookUrl": WEBHOOK}
    created = await world.provider.post("/payments", stranger, idempotency_key="stranger")
    await world.paid(created["id"])
    with pytest.raises(NotFound, match="no session"):
        await world.events.handle("evt-2", "payment.succeeded", created["id"])
    with pytest.raises(InvalidArgument):
        await world.events.handle("", "Payment Succeeded", "pay/../x")
    assert world.store.handled == {}


async def test_an_unreadable_provider_leaves_the_event_to_be_delivered_again(world: World) -> None:
    session_id, payment_id = await checked_out(world)
    await world.paid(payment_id)
    for _ in range(3):
        world.provider.fail_next("GET", f"/payments/{payment_id}", DependencyUnavailable("down"))
    with pytest.raises(DependencyUnavailable):
        await world.events.handle("evt-1", "payment.succeeded", payment_id)
    assert world.store.handled == {} and await world.state(session_id) == "PAYMENT_PENDING"
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"


async def test_a_failed_report_is_a_503_and_the_next_delivery_reports_it(world: World) -> None:
    session_id, payment_id = await checked_out(world)
    await world.paid(payment_id)
    world.arbiter.fail_next("record_payment", DependencyUnavailable("the sessions service is restarting"))
    with pytest.raises(DependencyUnavailable):
        await world.events.handle("evt-1", "payment.succeeded", payment_id)
    # Claimed with its status, and still to be reported.
    assert world.store.pending == {"evt-1"} and await world.state(session_id) == "PAYMENT_PENDING"
    stored = await world.store.for_session(session_id)
    assert stored is not None and stored.status == "SUCCEEDED"
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"
    calls = len(world.provider.calls)
    # Reported now: a redelivery is answered from the store alone, calling neither party.
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "DUPLICATE"
    assert len(world.provider.calls) == calls
    assert world.arbiter.calls.count("record_payment") == 2 and world.store.pending == set()
    assert world.arbiter.sagas.kinds(session_id) == ["confirm"]


async def test_a_report_the_arbiter_refuses_is_a_503_too(world: World) -> None:
    _, payment_id = await checked_out(world)
    await world.paid(payment_id)
    world.arbiter.fail_next("record_payment", Conflict("the session changed meanwhile"))
    with pytest.raises(DependencyUnavailable, match="did not take payment"):
        await world.events.handle("evt-1", "payment.succeeded", payment_id)
    assert world.store.pending == {"evt-1"}


class ForgetfulStore(FakePaymentStore):
    """A store whose first mark of an event as reported is lost, as when the process dies first."""

    def __init__(self) -> None:
        super().__init__()
        self.lost_marks = 0

    async def mark_reported(self, event_id: str) -> None:
        if self.lost_marks == 0:
            self.lost_marks += 1
            raise DependencyUnavailable("the database went away")
        await super().mark_reported(event_id)


def forgetful(world: World) -> ForgetfulStore:
    store = ForgetfulStore()
    world.store = store
    world.payments = Checkout(store, world.provider, world.arbiter, WEBHOOK, lambda: NOW)
    world.events = ProviderEvents(store, world.provider, world.arbiter, lambda: NOW)
    return store


async def test_a_report_made_again_after_a_lost_mark_starts_nothing_twice(world: World) -> None:
    forgetful(world)
    session_id, payment_id = await checked_out(world)
    await world.paid(payment_id)
    with pytest.raises(DependencyUnavailable):
        await world.events.handle("evt-1", "payment.succeeded", payment_id)
    assert await world.state(session_id) == "CONFIRMING"
    # The arbiter hears the same payment again and answers as before, starting no second saga.
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "APPLIED"
    assert world.arbiter.calls.count("record_payment") == 2
    assert world.arbiter.sagas.kinds(session_id) == ["confirm"]
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "DUPLICATE"


async def test_a_late_capture_reported_again_is_refunded_under_one_saga_id(world: World) -> None:
    forgetful(world)
    session_id, payment_id = await checked_out(world)
    world.arbiter.advance(timedelta(minutes=11))
    await world.paid(payment_id)
    with pytest.raises(DependencyUnavailable):
        await world.events.handle("evt-1", "payment.succeeded", payment_id)
    assert await world.events.handle("evt-1", "payment.succeeded", payment_id) == "REFUND_STARTED"
    # The arbiter asks for the refund twice, both times as the saga of this payment: one on the bus.
    refunds = [(sid, detail) for kind, sid, detail in world.arbiter.sagas.started if kind == "refund"]
    assert refunds == [(session_id, payment_id)] * 2
    assert {refund_slip(sid, pid, NOW).saga_id for sid, pid in refunds} == {f"refund-{payment_id}"}


def checkout_key(world: World, session_id: str, return_url: str = "") -> RequestKey:
    key = request_key(
        world.customer,
        payments_pb.CheckoutRequest(
            session_id=session_id, return_url=return_url, request_id="3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
        ),
    )
    assert key is not None
    return key


async def test_a_checkout_retried_with_its_request_id_answers_the_first_result_after_the_payment(
    world: World,
) -> None:
    session_id = await world.session_with_a_stay()
    key = checkout_key(world, session_id)
    session, payment = await world.payments.checkout(world.customer, session_id, "", key)
    await world.paid(payment.id)
    await world.events.handle("evt-r", "payment.succeeded", payment.id)
    assert await world.state(session_id) == "CONFIRMING"
    # Checking out a confirming session fails; its retry answers what the first call answered.
    again_session, again_payment = await world.payments.checkout(world.customer, session_id, "", key)
    assert (again_session, again_payment) == (session, payment)
    assert world.arbiter.calls.count("begin_checkout") == 1


async def test_a_checkout_request_id_reused_for_another_request_is_refused(world: World) -> None:
    session_id = await world.session_with_a_stay()
    await world.payments.checkout(world.customer, session_id, "", checkout_key(world, session_id))
    other = checkout_key(world, session_id, "https://shop.test/elsewhere")
    with pytest.raises(InvalidArgument) as refused:
        await world.payments.checkout(world.customer, session_id, "https://shop.test/elsewhere", other)
    assert [v.field for v in refused.value.violations] == ["requestId"]
