"""In-memory payment store: one payment per session, statuses that only move forward, events handled once."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime

from kit.request_ids import FirstResult, RequestKey, replayed
from services.payments.ports import PaymentRecord


class FakePaymentStore:
    def __init__(self) -> None:
        self.payments: dict[str, PaymentRecord] = {}
        self.handled: dict[str, tuple[str, str]] = {}  # event id -> (type, payment id)
        self.pending: set[str] = set()  # events claimed whose report the arbiter has not taken yet
        self.requests: dict[tuple[str, str], FirstResult] = {}

    async def for_session(self, session_id: str) -> PaymentRecord | None:
        return next((p for p in self.payments.values() if p.session_id == session_id), None)

    async def first_result(self, request: RequestKey, now: datetime) -> FirstResult | None:
        return replayed(self.requests.get((request.scope, request.request_id)), request, now)

    async def add(
        self,
        record: PaymentRecord,
        now: datetime,
        request: RequestKey | None = None,
        answer: Callable[[PaymentRecord], bytes] | None = None,
    ) -> PaymentRecord:
        existing = await self.for_session(record.session_id)
        if existing is None and record.id in self.payments:
            raise ValueError(f"payment {record.id} exists for another session")
        stored = existing or record
        self.payments[stored.id] = stored
        if request is not None:
            response = None if answer is None else answer(stored)
            first = FirstResult(request.fingerprint, stored.id, response, now)
            self.requests.setdefault((request.scope, request.request_id), first)
        return stored

    async def lookup(self, event_id: str, payment_id: str) -> tuple[bool, PaymentRecord | None]:
        if event_id in self.handled and event_id not in self.pending:
            return True, None
        return False, self.payments.get(payment_id)

    async def claim_event(
        self,
        event_id: str,
        event_type: str,
        payment_id: str,
        status: str,
        replaces: Collection[str],
        now: datetime,
        *,
        to_report: bool,
    ) -> bool:
        # No await inside: the claim and the status are one step, as one transaction makes them.
        if event_id in self.handled and event_id not in self.pending:
            return False
        self.handled.setdefault(event_id, (event_type, payment_id))
        if to_report:
            self.pending.add(event_id)
        else:
            self.pending.discard(event_id)
        stored = self.payments.get(payment_id)
        if stored is not None and stored.status in {str(s) for s in replaces}:
            self.payments[payment_id] = replace(stored, status=str(status))
        return True

    async def mark_reported(self, event_id: str) -> None:
        self.pending.discard(event_id)
