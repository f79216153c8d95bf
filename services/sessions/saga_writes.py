"""The arbiter's SagaStarter: each saga a transition implies, written to the outbox in its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from travel.saga.v1 import saga_pb2 as pb

from bus import outbox
from services.kit.database import Connection
from services.sessions import sagas
from services.sessions.domain import Item, Session
from services.sessions.repository import TransactionalWrite


def _outbox_write(slips: Sequence[pb.RoutingSlip], now: datetime) -> TransactionalWrite:
    def write(conn: Connection) -> None:
        outbox.add_many(conn, slips, now)

    return write


class OutboxSagaStarter:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def cancellation(self, session: Session) -> TransactionalWrite:
        return self.cancellations([session])

    def cancellations(self, sessions: Sequence[Session]) -> TransactionalWrite:
        now = self._clock()
        return _outbox_write([sagas.cancellation_slip(session, now) for session in sessions], now)

    def confirmation(self, session: Session) -> TransactionalWrite:
        now = self._clock()
        return _outbox_write([sagas.confirmation_slip(session, now)], now)

    def refund(self, session: Session, payment_id: str) -> TransactionalWrite:
        now = self._clock()
        return _outbox_write([sagas.refund_slip(session.id, payment_id, now)], now)

    def release(self, session: Session, item: Item) -> TransactionalWrite:
        now = self._clock()
        slip = sagas.release_slip(session, item, f"release-{uuid.uuid4().hex}", now)
        return _outbox_write([slip], now)
