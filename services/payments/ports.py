"""What the payments use cases need from storage: payments by session, and provider events handled once."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class PaymentRecord:
    id: str
    session_id: str
    customer_id: str
    amount: int
    currency: str
    status: str
    pay_url: str
    checkout_traceparent: str | None = None



class PaymentStore(Protocol):
    async def for_session(self, session_id: str) -> PaymentRecord | None: ...

    async def add(self, record: PaymentRecord, now: datetime) -> PaymentRecord:
        """Insert, or return the payment a concurrent checkout of the same session stored first."""
        ...

    async def lookup(self, event_id: str, payment_id: str) -> tuple[bool, PaymentRecord | None]:
        """Whether the event was handled already (claimed, and reported if a report was due), and
        (when not) the payment it names."""
        ...

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
        """Atomically: claim the event and store `status` over one it `replaces`; False, with nothing
        done, when the event was handled. A claim `to_report` stays pending until `mark_reported`,
        and a pending event is claimed again by its next delivery, which reports it again."""
        ...

    async def mark_reported(self, event_id: str) -> None:
        """The event's report reached the arbiter: from now on the event is handled."""
        ...
