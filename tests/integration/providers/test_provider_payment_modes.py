"""Payment chaos and load-test modes: duplicated and delayed webhooks, automatic completion."""

from __future__ import annotations

import httpx

from tests.support.polling import eventually
from tests.support.providers import FAST_WEBHOOKS, StartProvider, WebhookReceiver, new_reference


def _payment_body(webhook_url: str) -> dict[str, object]:
    return {"amount": 9900, "currency": "EUR", "reference": new_reference(), "webhookUrl": webhook_url}


async def test_duplicate_chaos_sends_one_event_twice(
    payment: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    await payment.put("/admin/chaos", json={"webhookDuplicateRate": 1.0, "webhookDelayMs": 30})
    created = (await payment.post("/payments", json=_payment_body(receiver.url))).json()
    await payment.post(f"/payments/{created['id']}/pay", json={"outcome": "succeed"})
    await eventually(lambda: len(receiver.received) >= 2)
    events = receiver.events()
    assert [e["id"] for e in events] == [events[0]["id"]] * 2


async def _status(client: httpx.AsyncClient, payment_id: str) -> str:
    status: str = (await client.get(f"/payments/{payment_id}")).json()["status"]
    return status


async def test_payments_complete_by_themselves_when_asked(start_provider: StartProvider) -> None:
    receiver = WebhookReceiver()
    try:
        for rate, expected, event in [
            ("0", "SUCCEEDED", "payment.succeeded"),
            ("1", "DECLINED", "payment.failed"),
        ]:
            env = {**FAST_WEBHOOKS, "PAYMENT_AUTO_COMPLETE_MS": "50", "PAYMENT_AUTO_DECLINE_RATE": rate}
            async with start_provider("payment", **env).client() as client:
                created = (await client.post("/payments", json=_payment_body(receiver.url))).json()

                async def done(payment_id: str = created["id"]) -> bool:
                    return await _status(client, payment_id) != "PENDING"

                await eventually(done)
                assert await _status(client, created["id"]) == expected
                payment_id = created["id"]

                def sent_for(pid: str = payment_id) -> list[dict[str, object]]:
                    return [e for e in receiver.events() if e["data"]["paymentId"] == pid]

                [sent] = await eventually(sent_for)
                assert sent["type"] == event
    finally:
        receiver.close()
