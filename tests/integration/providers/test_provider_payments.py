"""Payments over HTTP: pay, decline, refund, the checkout page, and signed webhooks retried until a 2xx."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kit.webhook_secret import new_webhook_secret
from kit.webhook_signature import SignatureError, verify
from tests.support.polling import eventually
from tests.support.providers import FAST_WEBHOOKS, StartProvider, WebhookReceiver, new_key, new_reference

SECRET = new_webhook_secret()


async def _create(client: httpx.AsyncClient, webhook_url: str, amount: int = 123_45) -> dict[str, Any]:
    body = {"amount": amount, "currency": "EUR", "reference": new_reference(), "webhookUrl": webhook_url}
    created = await client.post("/payments", json=body, headers={"Idempotency-Key": new_key()})
    assert created.status_code == 201
    payment: dict[str, Any] = created.json()
    assert payment["status"] == "PENDING" and payment["amount"] == amount
    return payment


async def _deliveries(client: httpx.AsyncClient, payment_id: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await client.get("/admin/webhooks", params={"paymentId": payment_id})
    ).json()["items"]
    return items


async def test_retries_stop_after_the_first_2xx(start_provider: StartProvider) -> None:
    receiver = WebhookReceiver([500, 500])
    try:
        async with start_provider("payment", **FAST_WEBHOOKS).client() as client:
            payment = await _create(client, receiver.url)
            paid = await client.post(f"/payments/{payment['id']}/pay", json={"outcome": "succeed"})
            assert paid.json()["status"] == "SUCCEEDED"

            async def delivered() -> list[dict[str, Any]]:
                items = await _deliveries(client, payment["id"])
                return [i for i in items if i["deliveredAt"]]

            [delivery] = await eventually(delivered)
            assert delivery["attempts"] == 3
            assert len(receiver.received) == 3
            events = receiver.events()
            assert len({e["id"] for e in events}) == 1
            assert events[0]["type"] == "payment.succeeded"
            assert events[0]["data"] == {
                "paymentId": payment["id"],
                "reference": payment["reference"],
                "amount": payment["amount"],
                "currency": "EUR",
                "status": "SUCCEEDED",
            }
    finally:
        receiver.close()


async def test_webhook_signatures_verify_only_with_the_secret(
    start_provider: StartProvider, receiver: WebhookReceiver
) -> None:
    async with start_provider("payment", PAYMENT_WEBHOOK_SECRET=SECRET, **FAST_WEBHOOKS).client() as payment:
        await _signed_with_the_secret(payment, receiver)


async def _signed_with_the_secret(payment: httpx.AsyncClient, receiver: WebhookReceiver) -> None:
    created = await _create(payment, receiver.url)
    await payment.post(f"/payments/{created['id']}/pay", json={"outcome": "decline"})
    [call] = await eventually(lambda: list(receiver.received))
    assert verify(SECRET, call.signature, call.body, now=time.time()) > 0
    assert receiver.events()[0]["type"] == "payment.failed"
    with pytest.raises(SignatureError):
        verify("another-secret", call.signature, call.body, now=time.time())
    with pytest.raises(SignatureError):
        verify(SECRET, call.signature, call.body + b" ", now=time.time())
    with pytest.raises(SignatureError):
        verify(SECRET, None, call.body, now=time.time())


async def test_refund_is_idempotent_and_only_for_succeeded_payments(
    payment: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    created = await _create(payment, receiver.url)
    refused = await payment.post(f"/payments/{created['id']}/refund")
    assert refused.status_code == 409 and refused.json()["error"] == "PAYMENT_NOT_REFUNDABLE"
    await payment.post(f"/payments/{created['id']}/pay", json={"outcome": "succeed"})
    twice = await payment.post(f"/payments/{created['id']}/pay", json={"outcome": "succeed"})
    assert twice.status_code == 409 and twice.json()["error"] == "PAYMENT_NOT_PENDING"
    for _ in range(2):
        refunded = await payment.post(f"/payments/{created['id']}/refund")
        assert refunded.status_code == 200 and refunded.json()["status"] == "REFUNDED"
    await eventually(lambda: len(receiver.received) >= 2)
    types = [e["type"] for e in receiver.events()]
    assert types == ["payment.succeeded", "refund.succeeded"]
    listed = (await payment.get("/payments", params={"reference": created["reference"]})).json()
    assert [p["status"] for p in listed["items"]] == ["REFUNDED"]
    assert (await payment.get("/payments/pay_nope")).status_code == 404


async def test_the_checkout_page_pays_and_links_back(
    payment: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    created = await _create(payment, receiver.url)
    back = "http://shop.example/sessions/1"
    page = await payment.get(f"/payments/{created['id']}/checkout", params={"returnUrl": back})
    assert page.status_code == 200 and "Pay</button>" in page.text and "Decline</button>" in page.text
    done = await payment.post(
        f"/payments/{created['id']}/checkout", content=f"outcome=succeed&returnUrl={back}".encode()
    )
    assert "SUCCEEDED" in done.text and back in done.text
    assert (await payment.get(f"/payments/{created['id']}")).json()["status"] == "SUCCEEDED"
    await eventually(lambda: list(receiver.received))


async def test_pending_deliveries_resume_after_a_restart(
    start_provider: StartProvider, tmp_path: Path
) -> None:
    receiver = WebhookReceiver([503] * 1000)
    data_dir = tmp_path / "payment-restart"
    try:
        first = start_provider("payment", data_dir=data_dir, **FAST_WEBHOOKS)
        async with first.client() as client:
            created = await _create(client, receiver.url)
            await client.post(f"/payments/{created['id']}/pay", json={"outcome": "succeed"})
            await eventually(lambda: list(receiver.received))
        first.server.stop()
        receiver.statuses.clear()
        second = start_provider("payment", data_dir=data_dir, **FAST_WEBHOOKS)
        async with second.client() as client:

            async def delivered() -> bool:
                return bool((await _deliveries(client, created["id"]))[0]["deliveredAt"])

            await eventually(delivered)
    finally:
        receiver.close()
