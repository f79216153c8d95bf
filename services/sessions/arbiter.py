"""The arbiter's use cases: every session transition as read, decide (pure), compare-and-set.

Each transition is one database transaction: the read, the decision and the compare-and-set
with its events and outbox rows. Decisions run on the database's thread, so they stay pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from bus.ports import DeadlineScheduler
from kit.error_reasons import ErrorReason
from kit.errors import Conflict, NotFound
from kit.request_ids import RequestKey
from services.sessions import domain
from services.sessions.domain import Item, PaymentOutcome, PaymentReport, Reason, Session, State
from services.sessions.open_limit import COUNTED_AS_OPEN, open_limit_refusal
from services.sessions.ports import Change, SessionStore, TransactionalWrite

log = logging.getLogger(__name__)

CAS_ATTEMPTS = 8
T = TypeVar("T")


class SagaStarter(Protocol):
    """Builds the saga a transition implies, as a write in the transition's own transaction."""

    def cancellation(self, session: Session) -> TransactionalWrite: ...

    def cancellations(self, sessions: Sequence[Session]) -> TransactionalWrite: ...

    def confirmation(self, session: Session) -> TransactionalWrite: ...

    def refund(self, session: Session, payment_id: str) -> TransactionalWrite: ...

    def release(self, session: Session, item: Item) -> TransactionalWrite: ...


@dataclass(frozen=True)
class PaymentResult:
    session: Session
    refund_started: bool
    outcome: PaymentOutcome


_PAYMENT_EVENTS = {
    PaymentOutcome.CAPTURED: "SUCCEEDED",
    PaymentOutcome.DECLINED: "DECLINED",
    PaymentOutcome.MISMATCHED: "MISMATCHED",
}


def _event(now: datetime, step: str, outcome: str, detail: str = "", saga_id: str = "") -> dict[str, Any]:
    return {
        "time": now,
        "kind": "session",
        "step": step,
        "outcome": outcome,
        "detail": detail,
        "saga_id": saga_id,
    }


class Arbiter:
    def __init__(
        self,
        repository: SessionStore,
        sagas: SagaStarter,
        deadlines: DeadlineScheduler,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        ttl: timedelta,
        open_per_customer: int = 5,
    ) -> None:
        self._repository = repository
        self._sagas = sagas
        self._deadlines = deadlines
        self._clock = clock
        self._new_id = new_id
        self._ttl = ttl
        self._open_per_customer = open_per_customer

    async def open(self, customer_id: str, request: RequestKey | None = None) -> Session:
        """Open a session; a `request` seen before answers the session it opened, as opened."""
        now = self._clock()
        session = domain.open_session(self._new_id(), customer_id, now, self._ttl)
        first = await self._repository.insert_unless(
            session,
            [_event(now, "state", State.OPEN.value, "session opened")],
            COUNTED_AS_OPEN,
            lambda current: open_limit_refusal(current, self._open_per_customer, now),
            request,
        )
        if first is not None:
            return domain.as_opened(first)
        # After the commit: a crash here is healed by the reconciler that re-adds deadlines on start.
        await self._deadlines.schedule(session.id, int(session.expires_at.timestamp() * 1000))
        return session

    async def get_owned(self, session_id: str, customer_id: str) -> Session:
        return domain.owned_by(await self._repository.get(session_id), customer_id)

    async def get(self, session_id: str) -> Session:
        session = await self._repository.get(session_id)
        if session is None:
            raise NotFound("session not found", reason=ErrorReason.SESSION_NOT_FOUND)
        return session

    async def list_owned(self, customer_id: str, limit: int, offset: int) -> list[Session]:
        return await self._repository.list_for(customer_id, limit, offset)

    async def authorize_item_change(self, session_id: str, customer_id: str) -> Session:
        session = await self.get_owned(session_id, customer_id)
        return domain.require_open(session, self._clock())

    async def attach(self, session_id: str, customer_id: str, item: Item) -> tuple[Session, Item | None]:
        def decide(found: Session | None) -> tuple[Change, tuple[Session, Item | None]]:
            current = domain.owned_by(found, customer_id)
            now = self._clock()
            updated, replaced = domain.attach(current, item, now)
            kind = "hotel" if isinstance(item, domain.HotelStay) else "flights"
            writes = [self._sagas.release(updated, replaced)] if replaced is not None else []
            event = _event(now, f"attach.{kind}", "DONE")
            return Change(updated, current.version, [event], writes), (updated, replaced)

        return await self._retrying(session_id, decide)

    async def begin_checkout(self, session_id: str, customer_id: str) -> Session:
        def decide(current: Session, now: datetime) -> Session:
            if current.state is State.PAYMENT_PENDING:
                return current  # Checking out twice is the same checkout.
            return domain.begin_checkout(current, now)

        return await self._transition(session_id, decide, customer_id=customer_id, step="checkout")

    async def reopen_checkout(self, session_id: str) -> Session:
        def decide(current: Session, now: datetime) -> Session:
            return domain.reopen_checkout(current, now)

        return await self._transition(session_id, decide, step="checkout.reopened")

    async def customer_cancel(self, session_id: str, customer_id: str) -> Session:
        def decide(current: Session, now: datetime) -> Session:
            if current.state is State.CANCELLING and current.reason == Reason.CUSTOMER_CANCELLED.value:
                return current
            return domain.customer_cancel(current, now)

        return await self._transition(
            session_id, decide, customer_id=customer_id, step="cancel", saga=self._sagas.cancellation
        )

    async def expire(self, session_id: str) -> tuple[Session, bool]:
        expired = False

        def decide(current: Session, now: datetime) -> Session:
            nonlocal expired
            updated = domain.expire(current, now)
            expired = updated is not None
            return updated or current

        session = await self._transition(session_id, decide, step="expire", saga=self._sagas.cancellation)
        return session, expired

    async def expire_many(self, session_ids: Sequence[str]) -> list[str]:
        """Expire a batch of due sessions in one transaction; returns the ids that expired now.

        The batch is all-or-nothing: if any session changed meanwhile, each is retried on its own.
        """
        due: list[str] = []

        def decide(found: list[Session]) -> tuple[list[Change], list[str]]:
            now = self._clock()
            changes = []
            for current in found:
                updated = domain.expire(current, now)
                if updated is not None:
                    event = _event(now, "state", updated.state.value, f"expire: {updated.reason}")
                    changes.append(Change(updated, current.version, [event]))
            due[:] = [change.session.id for change in changes]
            if changes:
                # One outbox statement carries every cancellation saga of the batch.
                last = changes[-1]
                saga = self._sagas.cancellations([change.session for change in changes])
                changes[-1] = Change(last.session, last.expected_version, last.events, [saga])
            return changes, list(due)

        try:
            return await self._repository.transition_many(session_ids, decide)
        except Conflict:
            expired = []
            for session_id in due:
                if (await self.expire(session_id))[1]:
                    expired.append(session_id)
            return expired

    async def record_payment(self, session_id: str, report: PaymentReport) -> PaymentResult:
        """Apply a payment as the provider records it; the session's own total decides whether it counts."""

        def decide(found: Session | None) -> tuple[Change | None, PaymentResult]:
            current = _existing(found)
            now = self._clock()
            outcome = domain.judge_payment(current, report)
            if current.payment_id == report.payment_id and current.state is not State.PAYMENT_PENDING:
                # The same outcome reported again (webhook duplicate): already recorded.
                return None, PaymentResult(current, refund_started=False, outcome=outcome)
            updated, saga = self._payment_transition(current, report.payment_id, outcome, now)
            if updated is None:
                if outcome is PaymentOutcome.DECLINED:
                    return None, PaymentResult(current, refund_started=False, outcome=outcome)
                # Money was captured for a session that no longer waits for it: give it back.
                write = self._sagas.refund(current, report.payment_id)
                event = _event(now, "payment", "REFUSED", f"session was {current.state.value}; refunding")
                change = Change(domain.touch(current, now), current.version, [event], [write])
                return change, PaymentResult(current, refund_started=True, outcome=outcome)
            event = _event(now, "payment", _PAYMENT_EVENTS[outcome])
            change = Change(updated, current.version, [event], [saga(updated)])
            return change, PaymentResult(updated, refund_started=False, outcome=outcome)

        return await self._retrying(session_id, decide)

    def _payment_transition(
        self, current: Session, payment_id: str, outcome: PaymentOutcome, now: datetime
    ) -> tuple[Session | None, Callable[[Session], TransactionalWrite]]:
        if outcome is PaymentOutcome.CAPTURED:
            return domain.payment_succeeded(current, payment_id, now), self._sagas.confirmation
        if outcome is PaymentOutcome.DECLINED:
            return domain.payment_declined(current, payment_id, now), self._sagas.cancellation
        # The cancellation of a mismatched session refunds its capture (see sagas.cancellation_slip).
        return domain.payment_mismatched(current, payment_id, now), self._sagas.cancellation

    async def complete(self, session_id: str) -> Session:
        return await self._settle(session_id, domain.complete, "complete")

    async def finish_cancellation(self, session_id: str, reason_if_confirming: Reason) -> Session:
        """The cancellation saga, or a failed confirmation's compensation, has finished."""

        def decide(current: Session, now: datetime) -> Session | None:
            failing = domain.confirmation_failed(current, reason_if_confirming, now)
            return domain.cancelled(failing or current, now)

        return await self._settle(session_id, decide, "cancelled")

    async def needs_attention(self, session_id: str) -> Session:
        return await self._settle(session_id, domain.needs_attention, "needs_attention")

    async def _settle(
        self, session_id: str, decide: Callable[[Session, datetime], Session | None], step: str
    ) -> Session:
        """Saga-driven transitions: a repeat (duplicate delivery) finds nothing to do and succeeds."""

        def decide_or_keep(current: Session, now: datetime) -> Session:
            return decide(current, now) or current

        return await self._transition(session_id, decide_or_keep, step=step)

    async def _transition(
        self,
        session_id: str,
        decide: Callable[[Session, datetime], Session],
        *,
        step: str,
        customer_id: str | None = None,
        saga: Callable[[Session], TransactionalWrite] | None = None,
    ) -> Session:
        def change(found: Session | None) -> tuple[Change | None, Session]:
            current = domain.owned_by(found, customer_id) if customer_id is not None else _existing(found)
            now = self._clock()
            updated = decide(current, now)
            if updated is current:
                return None, current
            writes = [saga(updated)] if saga is not None else []
            event = _event(now, "state", updated.state.value, f"{step}: {updated.reason}".rstrip(": "))
            return Change(updated, current.version, [event], writes), updated

        return await self._retrying(session_id, change)

    async def _retrying(
        self, session_id: str, decide: Callable[[Session | None], tuple[Change | None, T]]
    ) -> T:
        """One transaction per attempt; a compare-and-set lost to another writer is tried afresh."""
        for _ in range(CAS_ATTEMPTS):
            try:
                return await self._repository.transition(session_id, decide)
            except Conflict:
                continue
        raise Conflict("session is changing too fast; try again", reason=ErrorReason.CONCURRENT_CHANGE)


def _existing(session: Session | None) -> Session:
    if session is None:
        raise NotFound("session not found", reason=ErrorReason.SESSION_NOT_FOUND)
    return session
