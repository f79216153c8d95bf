"""Payment use cases: create, pay or decline, refund, get and list; each change enqueues its webhook."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kit.database import Connection
from simulated_world.providers import representations as present
from simulated_world.providers.chaos_control import ChaosControl
from simulated_world.providers.clock import Clock
from simulated_world.providers.domain import requests
from simulated_world.providers.domain.errors import RequestRefused, ResourceNotFound
from simulated_world.providers.domain.payments import (
    PayerChoice,
    Payment,
    PaymentStatus,
    completion_status,
    event_body,
    event_type,
    refund_decision,
)
from simulated_world.providers.store import payments
from simulated_world.providers.store.idempotency import EffectOutcome, encode

_CAS_ATTEMPTS = 5


class ProviderPayments:
    """Every effect runs on the caller's transaction, so the webhook outbox row commits with it."""

    def __init__(self, clock: Clock, chaos: ChaosControl, wall: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.chaos = chaos
        self.wall = wall

    def create(self, conn: Connection, body: dict[str, Any], base_url: str) -> EffectOutcome:
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
        payments.insert(conn, payment)
        return EffectOutcome(201, present.payment(payment, base_url), payment.id)

    def get(self, conn: Connection, payment_id: str, base_url: str) -> dict[str, Any]:
        return present.payment(self._existing(conn, payment_id), base_url)

    def list(
        self, conn: Connection, reference: str | None, page: requests.Page, base_url: str
    ) -> dict[str, Any]:
        found, total = payments.page(conn, reference, page.offset, page.size)
        items = [present.payment(p, base_url) for p in found]
        return present.page(items, page.offset, page.size, total)

    def pay(self, conn: Connection, payment_id: str, outcome: PayerChoice, base_url: str) -> EffectOutcome:
        for _ in range(_CAS_ATTEMPTS):
            payment = self._existing(conn, payment_id)
            to = completion_status(payment, outcome)
            if payments.change_status(conn, payment, to, self.clock.now()):
                return self._changed(conn, payment_id, base_url)
        raise RequestRefused(f"payment {payment_id} keeps changing; try again", "PAYMENT_BUSY")

    def refund(self, conn: Connection, payment_id: str, base_url: str) -> EffectOutcome:
        for _ in range(_CAS_ATTEMPTS):
            payment = self._existing(conn, payment_id)
            if not refund_decision(payment):
                return EffectOutcome(200, present.payment(payment, base_url), payment.id)
            if payments.change_status(conn, payment, PaymentStatus.REFUNDED, self.clock.now()):
                return self._changed(conn, payment_id, base_url)
        raise RequestRefused(f"payment {payment_id} keeps changing; try again", "PAYMENT_BUSY")

    def _changed(self, conn: Connection, payment_id: str, base_url: str) -> EffectOutcome:
        payment = self._existing(conn, payment_id)
        self._enqueue_event(conn, payment)
        return EffectOutcome(200, present.payment(payment, base_url), payment.id)

    def _enqueue_event(self, conn: Connection, payment: Payment) -> None:
        now = self.clock.now()
        event_id = present.new_id("evt")
        body = encode(event_body(event_id, payment, int(now.timestamp())))
        due = self.wall() + self.chaos.webhook_delay_seconds()
        # Duplicate chaos enqueues the same event twice: receivers must dedupe on its id.
        kind, copies = event_type(payment.status), self.chaos.webhook_copies()
        payments.enqueue_webhook(conn, payment, event_id, kind, body, due, now, copies)

    def _existing(self, conn: Connection, payment_id: str) -> Payment:
        payment = payments.get(conn, payment_id)
        if payment is None:
            raise ResourceNotFound(f"no payment {payment_id!r}", "PAYMENT_NOT_FOUND")
        return payment
