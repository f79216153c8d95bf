"""The arbiter's use cases: every session transition as read, decide (pure), compare-and-set."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.kit.errors import Conflict, NotFound
from services.sessions import domain
from services.sessions.domain import Item, Reason, Session, State
from services.sessions.repository import SessionRepository, TransactionalWrite

log = logging.getLogger(__name__)

CAS_ATTEMPTS = 8


class SagaStarter(Protocol):
    """Builds the saga a transition implies, as a write in the transition's own transaction."""

    def cancellation(self, session: Session) -> TransactionalWrite: ...

    def cancellations(self, sessions: Sequence[Session]) -> TransactionalWrite: ...

    def confirmation(self, session: Session) -> TransactionalWrite: ...

    def refund(self, session: Session, payment_id: str) -> TransactionalWrite: ...

    def release(self, session: Session, item: Item) -> TransactionalWrite: ...


class DeadlinePort(Protocol):
    async def schedule(self, session_id: str, deadline_ms: int) -> None: ...


@dataclass(frozen=True)
class PaymentResult:
    session: Session
    refund_started: bool


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
        repository: SessionRepository,
        sagas: SagaStarter,
        deadlines: DeadlinePort,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        ttl: timedelta,
    ) -> None:
        self._repository = repository
        self._sagas = sagas
        self._deadlines = deadlines
        self._clock = clock
        self._new_id = new_id
        self._ttl = ttl

    async def open(self, customer_id: str) -> Session:
        now = self._clock()
        session = domain.open_session(self._new_id(), customer_id, now, self._ttl)
        await self._repository.insert(session, [_event(now, "state", State.OPEN.value, "session opened")])
        # After the commit: a crash here is healed by the reconciler that re-adds deadlines on start.
        await self._deadlines.schedule(session.id, int(session.expires_at.timestamp() * 1000))
        return session

    async def get_owned(self, session_id: str, customer_id: str) -> Session:
        return domain.owned_by(await self._repository.get(session_id), customer_id)

    async def get(self, session_id: str) -> Session:
        session = await self._repository.get(session_id)
        if session is None:
            raise NotFound("session not found")
        return session

    async def list_owned(self, customer_id: str, limit: int, offset: int) -> list[Session]:
        return await self._repository.list_for(customer_id, limit, offset)

    async def authorize_item_change(self, session_id: str, customer_id: str) -> Session:
        session = await self.get_owned(session_id, customer_id)
        return domain.require_open(session, self._clock())

    async def attach(self, session_id: str, customer_id: str, item: Item) -> tuple[Session, Item | None]:
        for _ in range(CAS_ATTEMPTS):
            current = await self.get_owned(session_id, customer_id)
            now = self._clock()
            updated, replaced = domain.attach(current, item, now)
            kind = "hotel" if isinstance(item, domain.HotelStay) else "flights"
            writes = [self._sagas.release(updated, replaced)] if replaced is not None else []
            try:
                await self._repository.compare_and_set(
                    updated, current.version, [_event(now, f"attach.{kind}", "DONE")], writes
                )
                return updated, replaced
            except Conflict:
                continue
        raise Conflict("session is changing too fast; try again")

    async def begin_checkout(self, session_id: str, customer_id: str) -> Session:
        async def decide(current: Session, now: datetime) -> Session:
            if current.state is State.PAYMENT_PENDING:
                return current  # Checking out twice is the same checkout.
            return domain.begin_checkout(current, now)

        return await self._transition(session_id, decide, customer_id=customer_id, step="checkout")

    async def reopen_checkout(self, session_id: str) -> Session:
        async def decide(current: Session, now: datetime) -> Session:
            return domain.reopen_checkout(current, now)

        return await self._transition(session_id, decide, step="checkout.reopened")

    async def customer_cancel(self, session_id: str, customer_id: str) -> Session:
        async def decide(current: Session, now: datetime) -> Session:
            if current.state is State.CANCELLING and current.reason == Reason.CUSTOMER_CANCELLED.value:
                return current
            return domain.customer_cancel(current, now)

        return await self._transition(
            session_id, decide, customer_id=customer_id, step="cancel", saga=self._sagas.cancellation
        )

    async def expire(self, session_id: str) -> tuple[Session, bool]:
        expired = False

        async def decide(current: Session, now: datetime) -> Session:
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
        now = self._clock()
        changes = []
        for current in await self._repository.get_many(session_ids):
            updated = domain.expire(current, now)
            if updated is not None:
                changes.append((updated, current.version))
        events = [
            {
                **_event(now, "state", updated.state.value, f"expire: {updated.reason}"),
                "session_id": updated.id,
            }
            for updated, _ in changes
        ]
        try:
            await self._repository.compare_and_set_all(
                changes, events, [self._sagas.cancellations([updated for updated, _ in changes])]
            )
            return [updated.id for updated, _ in changes]
        except Conflict:
            expired = []
            for updated, _ in changes:
                if (await self.expire(updated.id))[1]:
                    expired.append(updated.id)
            return expired

    async def record_payment(self, session_id: str, payment_id: str, succeeded: bool) -> PaymentResult:
        for _ in range(CAS_ATTEMPTS):
            current = await self.get(session_id)
            now = self._clock()
            if current.payment_id == payment_id and current.state is not State.PAYMENT_PENDING:
                # The same outcome reported again (webhook duplicate): already recorded.
                return PaymentResult(current, refund_started=False)
            if succeeded:
                updated = domain.payment_succeeded(current, payment_id, now)
                saga, outcome = self._sagas.confirmation, "SUCCEEDED"
            else:
                updated = domain.payment_declined(current, payment_id, now)
                saga, outcome = self._sagas.cancellation, "DECLINED"
            try:
                if updated is None:
                    if not succeeded:
                        return PaymentResult(current, refund_started=False)
                    write = self._sagas.refund(current, payment_id)
                    event = _event(now, "payment", "REFUSED", f"session was {current.state.value}; refunding")
                    await self._repository.compare_and_set(
                        domain.touch(current, now), current.version, [event], [write]
                    )
                    return PaymentResult(current, refund_started=True)
                await self._repository.compare_and_set(
                    updated, current.version, [_event(now, "payment", outcome)], [saga(updated)]
                )
                return PaymentResult(updated, refund_started=False)
            except Conflict:
                continue
        raise Conflict("session is changing too fast; try again")

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

        async def decide_or_keep(current: Session, now: datetime) -> Session:
            return decide(current, now) or current

        return await self._transition(session_id, decide_or_keep, step=step)

    async def _transition(
        self,
        session_id: str,
        decide: Callable[[Session, datetime], Any],
        *,
        step: str,
        customer_id: str | None = None,
        saga: Callable[[Session], TransactionalWrite] | None = None,
    ) -> Session:
        for _ in range(CAS_ATTEMPTS):
            current = (
                await self.get_owned(session_id, customer_id)
                if customer_id is not None
                else await self.get(session_id)
            )
            now = self._clock()
            updated: Session = await decide(current, now)
            if updated is current:
                return current
            writes = [saga(updated)] if saga is not None else []
            try:
                await self._repository.compare_and_set(
                    updated,
                    current.version,
                    [_event(now, "state", updated.state.value, f"{step}: {updated.reason}".rstrip(": "))],
                    writes,
                )
                return updated
            except Conflict:
                continue
        raise Conflict("session is changing too fast; try again")
