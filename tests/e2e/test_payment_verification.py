"""Webhooks are only hints: the payment provider's own record decides, end to end."""

from __future__ import annotations

import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.booking import (
    Customer,
    assert_released,
    holds_of,
    pay,
    pay_on_page,
    provider_get,
    records_of,
    send_webhook,
    set_chaos,
)
from tests.e2e.system import RunningSystem, running_system, wait_for
from tools.invariants import violations_of

pytestmark = pytest.mark.e2e

# Long enough that no session expires while a test waits on the provider's webhook retries.
TTL_SECONDS = 300
CALM = {"failureRate": 0.0, "ambiguousRate": 0.0, "latencyMs": 0, "webhookDuplicateRate": 0.0}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    env = {
        "SESSION_TTL_SECONDS": str(TTL_SECONDS),
        "BUS_RETRY_BASE_DELAY_SECONDS": "0.05",
        # Signed by the test as by the provider: an explicit secret wins over the data folder's.
        "PAYMENT_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        # The provider retries a refused webhook at most 2 s later, so a recovery shows up quickly.
        "PAYMENT_WEBHOOK_RETRY_MAX_MS": "2000",
    }
    with running_system(tmp_path_factory.mktemp("payment-verification"), redis_url, env) as running:
        yield running


@pytest.fixture(autouse=True)
def calm(system: RunningSystem) -> Iterator[None]:
    set_chaos(system, {**CALM, "webhookDelayMs": 0})
    yield


def checked_out(customer: Customer) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A session waiting for payment: its id, its total and its payment at the provider."""
    session_id = customer.full_session()
    answer = customer.checkout(session_id)
    assert answer["session"]["state"] == "STATE_PAYMENT_PENDING"
    return session_id, answer["session"]["total"], answer["payment"]


def event(event_type: str, payment_id: str, session_id: str, total: dict[str, Any]) -> dict[str, Any]:
    """An event that claims whatever it likes; only its signature is genuine."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "created": int(time.time()),
        "data": {
            "paymentId": payment_id,
            "reference": session_id,
            "amount": int(total["amount"]),
            "currency": total["currency"],
            "status": "SUCCEEDED",
        },
    }


def signed(system: RunningSystem, body: dict[str, Any]) -> httpx.Response:
    return send_webhook(system, body, secret=system.env["PAYMENT_WEBHOOK_SECRET"])


def provider_payment(system: RunningSystem, payment_id: str) -> dict[str, Any]:
    return dict(provider_get(system, "payment", f"/payments/{payment_id}"))


def deliveries(system: RunningSystem, payment_id: str) -> list[dict[str, Any]]:
    return list(provider_get(system, "payment", f"/admin/webhooks?paymentId={payment_id}")["items"])


def stored_status(system: RunningSystem, payment_id: str) -> str:
    """The status the payments service keeps for a payment, read from its own database."""
    with sqlite3.connect(system.data_dir / "payments.sqlite3") as db:
        row = db.execute("SELECT status FROM payments WHERE id = ?", (payment_id,)).fetchone()
    assert row is not None, f"the payments service has no record of {payment_id}"
    return str(row[0])


@pytest.mark.parametrize(
    "event_type", ["payment.succeeded", "payment.failed", "refund.succeeded", "payment.updated"]
)
def test_a_signed_event_for_a_pending_payment_changes_nothing(system: RunningSystem, event_type: str) -> None:
    customer = Customer.signed_up(system)
    session_id, total, payment = checked_out(customer)
    answer = signed(system, event(event_type, payment["id"], session_id, total))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "duplicate": False, "result": "PENDING"}
    session = customer.session(session_id)
    assert session["state"] == "STATE_PAYMENT_PENDING" and not session.get("paymentId")
    assert {h["status"] for h in holds_of(system, session_id)} == {"HELD"}
    assert provider_payment(system, payment["id"])["status"] == "PENDING"
    assert stored_status(system, payment["id"]) == "PENDING"
    assert not [e for e in customer.events(session_id) if e["step"] == "payment"]
    # The real payment, when it comes, is applied as usual.
    pay(system, payment["id"])
    final = customer.wait_state(session_id, {"STATE_CONFIRMED", "STATE_CANCELLED"})
    assert final["state"] == "STATE_CONFIRMED"
    assert violations_of(records_of(customer, session_id)) == []


def test_a_capture_of_another_amount_never_confirms_and_is_refunded(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, total, payment = checked_out(customer)
    # Hold the provider's own delivery back, so that the test delivers the event and reads the answer.
    set_chaos(system, {"webhookDelayMs": 600_000}, kinds=("payment",))
    created = httpx.post(
        f"{system.provider_url('payment')}/payments",
        json={
            "amount": int(total["amount"]) - 1,
            "currency": total["currency"],
            "reference": session_id,
            "webhookUrl": f"{system.gateway_url}/v1/webhooks/payments",
        },
        headers={"Idempotency-Key": f"short-{session_id}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    short = created.json()
    pay(system, short["id"])
    set_chaos(system, {"webhookDelayMs": 0}, kinds=("payment",))
    answer = signed(system, event("payment.succeeded", short["id"], session_id, total))
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == "MISMATCH"
    final = customer.wait_state(session_id, {"STATE_CONFIRMED", "STATE_CANCELLED", "STATE_EXPIRED"})
    assert (final["state"], final["reason"]) == ("STATE_CANCELLED", "PAYMENT_MISMATCH")
    assert provider_payment(system, short["id"])["status"] == "REFUNDED"
    assert provider_payment(system, payment["id"])["status"] == "PENDING"
    assert_released(system, session_id)
    assert violations_of(records_of(customer, session_id)) == []
    assert ("payment", "MISMATCHED") in {(e["step"], e["outcome"]) for e in customer.events(session_id)}


def test_an_unreadable_provider_gets_503_and_the_retried_delivery_applies(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, total, payment = checked_out(customer)
    set_chaos(system, {"failureRate": 1.0}, kinds=("payment",))
    pay_on_page(system, payment["id"])  # the hosted page is never subject to chaos

    def refused_once() -> list[dict[str, Any]]:
        return [d for d in deliveries(system, payment["id"]) if d["attempts"] >= 1 and d["lastError"]]

    refused = wait_for(refused_once, 60, "the provider's webhook to be refused")
    assert all(d["deliveredAt"] is None for d in refused), refused
    ours = event("payment.succeeded", payment["id"], session_id, total)
    answer = signed(system, ours)
    assert answer.status_code == 503, answer.text
    assert customer.session(session_id)["state"] == "STATE_PAYMENT_PENDING"

    set_chaos(system, CALM, kinds=("payment",))
    final = customer.wait_state(session_id, {"STATE_CONFIRMED", "STATE_CANCELLED"})
    assert final["state"] == "STATE_CONFIRMED"
    wait_for(
        lambda: all(d["deliveredAt"] for d in deliveries(system, payment["id"])),
        30,
        "the provider to see its webhook delivered",
    )
    # The refused event was not remembered: delivered again, it is read and applied, not a duplicate.
    again = signed(system, ours)
    assert again.status_code == 200, again.text
    assert again.json() == {"received": True, "duplicate": False, "result": "APPLIED"}
    assert violations_of(records_of(customer, session_id)) == []


def test_a_refund_event_is_checked_at_the_provider_too(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, total, payment = checked_out(customer)
    pay(system, payment["id"])
    customer.wait_state(session_id, {"STATE_CONFIRMED"})
    wait_for(lambda: stored_status(system, payment["id"]) == "SUCCEEDED", 30, "the capture to be stored")
    answer = signed(system, event("refund.succeeded", payment["id"], session_id, total))
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == "APPLIED"  # what the provider shows: captured, already applied
    assert stored_status(system, payment["id"]) == "SUCCEEDED"
    assert provider_payment(system, payment["id"])["status"] == "SUCCEEDED"
    assert customer.session(session_id)["state"] == "STATE_CONFIRMED"
    assert violations_of(records_of(customer, session_id)) == []


def test_a_real_refund_is_recorded_from_the_providers_record(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id, _, payment = checked_out(customer)
    customer.ok("POST", f"/v1/sessions/{session_id}:cancel", {})
    customer.wait_state(session_id, {"STATE_CANCELLED"})
    pay(system, payment["id"])  # too late: the arbiter refunds it, and the provider reports the refund
    wait_for(lambda: stored_status(system, payment["id"]) == "REFUNDED", 60, "the refund to be recorded")
    assert provider_payment(system, payment["id"])["status"] == "REFUNDED"
    assert violations_of(records_of(customer, session_id)) == []


def test_an_event_for_a_payment_the_provider_does_not_know_is_not_found(system: RunningSystem) -> None:
    nowhere = f"pay_{uuid.uuid4().hex[:24]}"
    unknown = event("payment.updated", nowhere, str(uuid.uuid4()), {"amount": 1, "currency": "EUR"})
    answer = signed(system, unknown)
    assert answer.status_code == 404, answer.text
    malformed = signed(system, {**unknown, "type": "Not A Type"})
    assert malformed.status_code == 400 and "type" in malformed.text
