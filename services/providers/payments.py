"""Payment use cases: create, pay or decline, refund, get and list; each change enqueues its webhook."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.providers import representations as present
from services.providers.chaos_control import ChaosControl
from services.providers.clock import Clock
from services.providers.domain import requests
from services.providers.domain.errors import BusinessRefusal, NotFound
from services.providers.domain.payments import (
    Outcome as PayOutcome,
)
from services.providers.domain.payments import (
    Payment,
    PaymentStatus,
    completion_status,
    event_body,
    event_type,
    refund_decision,
)
from services.providers.store import payments
from services.providers.store.idempotency import Outcome, encode

_CAS_ATTEMPTS = 5


class Payments:
    """Every effect runs on the caller's transaction, so the webhook outbox row commits with it."""

    def __init__(self, clock: Clock, chaos: ChaosControl, wall: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.chaos = chaos
        self.wall = wall

    async def create(self, conn: AsyncConnection, body: dict[str, Any], base_url: str) -> Outcome:
        request = requests.payment(body)
        payment = Payment(
            present.new_id("pay"),
            PaymentStatus.PENDING,
            request.reference,
            request.amount,
            request.currency,
            request.webhook_url,
            self.clock.now(),
        )
        await payments.insert(conn, payment)
        return Outcome(201, present.payment(payment, base_url), payment.id)

    async def get(self, conn: AsyncConnection, payment_id: str, base_url: str) -> dict[str, Any]:
        return present.payment(await self._existing(conn, payment_id), base_url)

    async def list(
        self, conn: AsyncConnection, reference: str | None, page: requests.Page, base_url: str
    ) -> dict[str, Any]:
        found, total = await payments.page(conn, reference, page.offset, page.size)
        items = [present.payment(p, base_url) for p in found]
        return present.page(items, page.offset, page.size, total)

    async def pay(
        self, conn: AsyncConnection, payment_id: str, outcome: PayOutcome, base_url: str
    ) -> Outcome:
        for _ in range(_CAS_ATTEMPTS):
            payment = await self._existing(conn, payment_id)
            to = completion_status(payment, outcome)
            if await payments.change_status(conn, payment, to, self.clock.now()):
                return await self._changed(conn, payment_id, base_url)
        raise BusinessRefusal(f"payment {payment_id} keeps changing; try again", "PAYMENT_BUSY")

    async def refund(self, conn: AsyncConnection, payment_id: str, base_url: str) -> Outcome:
        for _ in range(_CAS_ATTEMPTS):
            payment = await self._existing(conn, payment_id)
            if not refund_decision(payment):
                return Outcome(200, present.payment(payment, base_url), payment.id)
            if await payments.change_status(conn, payment, PaymentStatus.REFUNDED, self.clock.now()):
                return await self._changed(conn, payment_id, base_url)
        raise BusinessRefusal(f"payment {payment_id} keeps changing; try again", "PAYMENT_BUSY")

    async def _changed(self, conn: AsyncConnection, payment_id: str, base_url: str) -> Outcome:
        payment = await self._existing(conn, payment_id)
        await self._enqueue_event(conn, payment)
        return Outcome(200, present.payment(payment, base_url), payment.id)

    async def _enqueue_event(self, conn: AsyncConnection, payment: Payment) -> None:
        now = self.clock.now()
        event_id = present.new_id("evt")
        body = encode(event_body(event_id, payment, int(now.timestamp())))
        due = self.wall() + self.chaos.webhook_delay_seconds()
        # Duplicate chaos enqueues the same event twice: receivers must dedupe on its id.
        for _ in range(self.chaos.webhook_copies()):
            kind = event_type(payment.status)
            await payments.enqueue_webhook(conn, payment, event_id, kind, body, due, now)

    async def _existing(self, conn: AsyncConnection, payment_id: str) -> Payment:
        payment = await payments.get(conn, payment_id)
        if payment is None:
            raise NotFound(f"no payment {payment_id!r}", "PAYMENT_NOT_FOUND")
        return payment
