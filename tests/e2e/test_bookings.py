"""Bookings end to end: pay, confirm everything or undo everything, checked at the providers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.booking import (
    Customer,
    pay,
    records_of,
    send_webhook,
    set_chaos,
    set_provider_clock,
)
from tests.e2e.system import RunningSystem, running_system, wait_for
from tools.invariants import violations_of

pytestmark = pytest.mark.e2e

TTL_SECONDS = 15


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    env = {"SESSION_TTL_SECONDS": str(TTL_SECONDS), "BUS_RETRY_BASE_DELAY_SECONDS": "0.05"}
    with running_system(tmp_path_factory.mktemp("bookings"), redis_url, env) as running:
        yield running


@pytest.fixture(autouse=True)
def calm(system: RunningSystem) -> Iterator[None]:
    set_chaos(system, {"failureRate": 0.0, "ambiguousRate": 0.0, "latencyMs": 0, "webhookDuplicateRate": 0.0})
    for kind in ("hotel", "flight", "payment"):
        set_provider_clock(system, kind, 0)
    yield


def checked_out(customer: Customer) -> tuple[str, dict]:
    session_id = customer.full_session()
    answer = customer.checkout(session_id)
    assert answer["session"]["state"] == "STATE_PAYMENT_PENDING"
    return session_id, answer["payment"]


def test_happy_path_confirms_everything_once(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, payment = checked_out(customer)
    assert payment["status"] == "PENDING" and payment["payUrl"].startswith("http")
    assert customer.checkout(session_id)["payment"]["id"] == payment["id"]  # checking out twice
    pay(system, payment["id"])
    final = customer.wait_state(session_id, {"STATE_CONFIRMED", "STATE_CANCELLED"})
    assert (final["state"], final["reason"]) == ("STATE_CONFIRMED", "ALL_CONFIRMED")
    assert violations_of(records_of(customer, session_id)) == []
    steps = {(e["step"], e["outcome"]) for e in customer.events(session_id)}
    for step in ("hotel.confirm", "flights.confirm", "sessions.complete"):
        assert (step, "COMPLETED") in steps, steps


def test_declined_payment_cancels_and_releases(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, payment = checked_out(customer)
    pay(system, payment["id"], "decline")
    final = customer.wait_state(session_id, {"STATE_CANCELLED", "STATE_CONFIRMED"})
    assert (final["state"], final["reason"]) == ("STATE_CANCELLED", "PAYMENT_DECLINED")
    assert violations_of(records_of(customer, session_id)) == []


def test_confirm_refused_after_hold_window_is_compensated_and_refunded(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, payment = checked_out(customer)
    set_provider_clock(system, "hotel", 901)
    pay(system, payment["id"])
    final = customer.wait_state(session_id, {"STATE_CANCELLED", "STATE_CONFIRMED"})
    assert (final["state"], final["reason"]) == ("STATE_CANCELLED", "HOTEL_REJECTED")
    records = records_of(customer, session_id)
    assert violations_of(records) == []
    assert [p["status"] for p in records.payments] == ["REFUNDED"]


def test_flight_refused_undoes_the_confirmed_hotel(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, payment = checked_out(customer)
    set_provider_clock(system, "flight", 901)
    pay(system, payment["id"])
    final = customer.wait_state(session_id, {"STATE_CANCELLED", "STATE_CONFIRMED"})
    assert (final["state"], final["reason"]) == ("STATE_CANCELLED", "FLIGHT_REJECTED")
    records = records_of(customer, session_id)
    assert violations_of(records) == []
    hotel = next(h for h in records.holds if h["kind"] == "hotel")
    assert hotel["confirmedAt"] and hotel["status"] == "CANCELLED"  # confirmed, then undone


def test_payment_after_expiry_is_refunded(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, payment = checked_out(customer)
    customer.wait_state(session_id, {"STATE_EXPIRED"}, timeout=TTL_SECONDS + 60)
    pay(system, payment["id"])

    def refunded() -> bool:
        return [p["status"] for p in records_of(customer, session_id).payments] == ["REFUNDED"]

    wait_for(refunded, 60, "the late payment to be refunded")
    records = records_of(customer, session_id)
    assert records.session["state"] == "STATE_EXPIRED"
    assert violations_of(records) == []


def test_duplicate_and_reordered_webhooks_change_nothing(system: RunningSystem) -> None:
    set_chaos(system, {"webhookDuplicateRate": 1.0})
    customer = Customer.signed_up(system)
    session_id, payment = checked_out(customer)
    pay(system, payment["id"])
    customer.wait_state(session_id, {"STATE_CONFIRMED"})
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "payment.failed",
        "created": 0,
        "data": {"paymentId": payment["id"], "reference": session_id, "status": "DECLINED"},
    }
    late_failure = send_webhook(system, event)  # an older event arriving after the success
    assert late_failure.status_code == 200, late_failure.text
    again = send_webhook(system, event)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    records = records_of(customer, session_id)
    assert records.session["state"] == "STATE_CONFIRMED"
    assert violations_of(records) == []
    confirms = [
        e for e in customer.events(session_id) if e["step"] == "hotel.confirm" and e["outcome"] == "COMPLETED"
    ]
    assert len(confirms) == 1


def test_ambiguous_confirm_failures_are_resolved_at_the_provider(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, payment = checked_out(customer)
    set_chaos(system, {"ambiguousRate": 0.6, "seed": 11}, kinds=("hotel", "flight"))
    pay(system, payment["id"])
    final = customer.wait_state(session_id, {"STATE_CONFIRMED", "STATE_CANCELLED"}, timeout=90)
    assert final["state"] == "STATE_CONFIRMED"
    assert violations_of(records_of(customer, session_id)) == []


@pytest.mark.parametrize(
    ("event", "header", "status"),
    [
        ({"id": "evt_x", "type": "payment.succeeded", "data": {"paymentId": "pay_unknown"}}, "good", 404),
        ({"id": "evt_y", "type": "payment.succeeded", "data": {}}, "good", 400),
        ({"id": "evt_z", "type": "payment.succeeded", "data": {"paymentId": "p"}}, "forged", 401),
        ({"id": "evt_w", "type": "payment.succeeded", "data": {"paymentId": "p"}}, "stale", 401),
        ({"id": "evt_v", "type": "payment.succeeded", "data": {"paymentId": "p"}}, "missing", 401),
    ],
)
def test_bad_webhooks_are_refused(system: RunningSystem, event: dict, header: str, status: int) -> None:
    import json
    import time

    from kit.webhook_signature import sign

    body = json.dumps(event).encode()
    signatures = {
        "good": sign(system.webhook_secret, int(time.time()), body),
        "forged": sign("not-the-secret", int(time.time()), body),
        "stale": sign(system.webhook_secret, int(time.time()) - 3600, body),
    }
    headers = {"Content-Type": "application/json"}
    if header in signatures:
        headers["Travel-Signature"] = signatures[header]
    response = system.http.post("/v1/webhooks/payments", content=body, headers=headers)
    assert response.status_code == status, response.text


def test_checkout_refusals(system: RunningSystem) -> None:
    owner, stranger = Customer.signed_up(system), Customer.signed_up(system)
    empty = owner.open_session()
    assert owner.call("POST", f"/v1/sessions/{empty}/checkout", {}).status_code == 422
    assert stranger.call("POST", f"/v1/sessions/{empty}/checkout", {}).status_code == 404
    cancelled = owner.open_session()
    owner.ok("POST", f"/v1/sessions/{cancelled}:cancel", {})
    assert owner.call("POST", f"/v1/sessions/{cancelled}/checkout", {}).status_code == 409
    assert owner.session(empty)["state"] == "STATE_OPEN"
