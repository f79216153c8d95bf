"""The arbiter's SagaStarter: each saga a transition implies, written to the outbox in its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from travel.saga.v1 import saga_pb2 as pb

from bus import outbox
from bus.outbox import OutboxRelay, PendingSlip
from kit.database import Connection
from services.sessions.domain import Item, Session
from services.sessions.ports import Change, SagaPlans, TransactionalWrite


class _OutboxWrite:
    """Queues slips in the transaction; with a relay, leased to it, and kept to hand it after the commit."""

    def __init__(self, slips: Sequence[pb.RoutingSlip], now: datetime, relay: OutboxRelay | None) -> None:
        self._slips = slips
        self._now = now
        self._relay = relay
        self.leased: list[PendingSlip] = []

    def __call__(self, conn: Connection) -> None:
        if self._relay is None:
            outbox.add_many(conn, self._slips, self._now)
        else:
            self.leased = self._relay.lease_in(conn, self._slips, self._now)


def leased_slips(changes: Sequence[Change]) -> list[PendingSlip]:
    """The outbox rows committed changes leased to the relay, for `OutboxRelay.hand`."""
    return [
        pending
        for change in changes
        for write in change.writes
        if isinstance(write, _OutboxWrite)
        for pending in write.leased
    ]


def queued_unleased(changes: Sequence[Change]) -> bool:
    """Whether committed changes queued outbox rows no relay holds (the reconciler's restarts): the
    relay must claim them."""
    return any(
        not (isinstance(write, _OutboxWrite) and write.leased)
        for change in changes
        for write in change.writes
    )


class OutboxSagaStarter:
    """With `relay`, each saga's rows are leased to it in the transaction, so it need not claim them."""

    def __init__(
        self, clock: Callable[[], datetime], plans: SagaPlans, relay: OutboxRelay | None = None
    ) -> None:
        self._clock = clock
        self._plans = plans
        self._relay = relay

    def _outbox_write(self, slips: Sequence[pb.RoutingSlip], now: datetime) -> TransactionalWrite:
        return _OutboxWrite(slips, now, self._relay)

    def cancellation(self, session: Session) -> TransactionalWrite:
        return self.cancellations([session])

    def cancellations(self, sessions: Sequence[Session]) -> TransactionalWrite:
        now = self._clock()
        return self._outbox_write([self._plans.cancellation_slip(session, now) for session in sessions], now)

    def confirmation(self, session: Session) -> TransactionalWrite:
        now = self._clock()
        return self._outbox_write([self._plans.confirmation_slip(session, now)], now)

    def refund(self, session: Session, payment_id: str) -> TransactionalWrite:
        now = self._clock()
        return self._outbox_write([self._plans.refund_slip(session.id, payment_id, now)], now)

    def release(self, session: Session, item: Item) -> TransactionalWrite:
        now = self._clock()
        slip = self._plans.release_slip(session, item, f"release-{uuid.uuid4().hex}", now)
        return self._outbox_write([slip], now)
