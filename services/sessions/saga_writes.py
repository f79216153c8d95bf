"""The arbiter's SagaStarter: each saga a transition implies, written to the outbox in its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from services.sessions import sagas
from services.sessions.domain import Item, Session
from services.sessions.outbox import SagaOutbox
from services.sessions.repository import TransactionalWrite


class OutboxSagaStarter:
    def __init__(self, outbox: SagaOutbox, clock: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._clock = clock

    def cancellation(self, session: Session) -> TransactionalWrite:
        return self._outbox.write(sagas.cancellation_slip(session, self._clock()))

    def confirmation(self, session: Session) -> TransactionalWrite:
        return self._outbox.write(sagas.confirmation_slip(session, self._clock()))

    def refund(self, session: Session, payment_id: str, reason: str) -> TransactionalWrite:
        return self._outbox.write(sagas.refund_slip(session.id, payment_id, self._clock()))

    def release(self, session: Session, item: Item) -> TransactionalWrite:
        slip = sagas.release_slip(session, item, f"release-{uuid.uuid4().hex}", self._clock())
        return self._outbox.write(slip)
