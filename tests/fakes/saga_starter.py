"""A SagaStarter that records, when its transaction commits, each saga a transition started."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kit.database import Connection
from services.sessions.domain import HotelStay, Item, Session
from services.sessions.ports import TransactionalWrite


@dataclass
class RecordingSagaStarter:
    # (kind, session id, detail): a payment id for a refund, the item kind for a release.
    started: list[tuple[str, str, str]] = field(default_factory=list)

    def _record(self, *sagas: tuple[str, str, str]) -> TransactionalWrite:
        def write(_conn: Connection) -> None:
            self.started.extend(sagas)

        return write

    def cancellation(self, session: Session) -> TransactionalWrite:
        return self._record(("cancel", session.id, session.reason))

    def cancellations(self, sessions: Sequence[Session]) -> TransactionalWrite:
        return self._record(*(("cancel", s.id, s.reason) for s in sessions))

    def confirmation(self, session: Session) -> TransactionalWrite:
        return self._record(("confirm", session.id, session.payment_id))

    def refund(self, session: Session, payment_id: str) -> TransactionalWrite:
        return self._record(("refund", session.id, payment_id))

    def release(self, session: Session, item: Item) -> TransactionalWrite:
        return self._record(("release", session.id, "hotel" if isinstance(item, HotelStay) else "flights"))

    def kinds(self, session_id: str) -> list[str]:
        return [kind for kind, sid, _ in self.started if sid == session_id]
