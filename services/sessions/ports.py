"""What the arbiter needs from session storage: reads, and compare-and-set writes with their events."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from travel.saga.v1 import saga_pb2 as saga_pb

from kit.database import Connection
from kit.request_ids import RequestKey
from services.sessions.domain import Item, Session, State
from services.sessions.open_limit import OpenSessions
from services.sessions.reconciliation import Unfinished

T = TypeVar("T")

# Something to run inside the same transaction as a session write (e.g. an outbox insert).
TransactionalWrite = Callable[[Connection], None]


@dataclass(frozen=True)
class Change:
    """A session written over the version it was read at, with its events and other writes."""

    session: Session
    expected_version: int
    events: Sequence[dict[str, Any]] = ()
    writes: Sequence[TransactionalWrite] = ()


# Told after a commit which changes it wrote: wakes the outbox relay, tells watchers of a session.
CommitListener = Callable[[Sequence[Change]], None]


class SessionEventRecord(Protocol):
    """One stored event of a session, as its timeline reads it back."""

    @property
    def time(self) -> datetime: ...

    @property
    def kind(self) -> str: ...

    @property
    def step(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def detail(self) -> str: ...

    @property
    def saga_id(self) -> str: ...


class SessionStore(Protocol):
    """Every method is one transaction: a change commits whole (session, events, writes) or not at all.

    A change is a compare-and-set on the version it was read at: `Conflict` when the stored version
    moved on, and then nothing of the transaction stays.
    """

    async def get(self, session_id: str) -> Session | None: ...

    async def get_many(self, session_ids: Sequence[str]) -> list[Session]: ...

    async def list_for(self, customer_id: str, limit: int, offset: int) -> list[Session]:
        """A customer's sessions, newest first."""
        ...

    async def non_terminal(self, after: str, limit: int) -> list[Unfinished]:
        """Sessions not yet settled, by id: at most `limit` of those after `after` ('' for the first)."""
        ...

    async def insert_unless(
        self,
        session: Session,
        events: Sequence[dict[str, Any]],
        counted: Collection[State],
        refuse: Callable[[OpenSessions], Exception | None],
        request: RequestKey | None = None,
    ) -> Session | None:
        """Insert unless `refuse`, shown the customer's sessions in `counted`, returns an error (raised).

        With a `request` already recorded (within 24 hours), nothing is inserted and the session it
        opened is returned, as it is now; a new `request` is recorded in the same transaction.
        """
        ...

    async def transition(
        self, session_id: str, decide: Callable[[Session | None], tuple[Change | None, T]]
    ) -> T: ...

    async def transition_many(
        self, session_ids: Sequence[str], decide: Callable[[list[Session]], tuple[Sequence[Change], T]]
    ) -> T: ...

    async def events(self, session_id: str) -> Sequence[SessionEventRecord]:
        """A session's events in the order they were written."""
        ...

    async def with_events(self, session_id: str) -> tuple[Session | None, Sequence[SessionEventRecord]]:
        """The session and its events (none if there is no session), in one transaction."""
        ...


class SagaPlans(Protocol):
    """How each saga the arbiter starts is laid out: the saga folder's slips, given by `app.py`.

    The sessions service decides when a saga starts; which steps it runs lives with the sagas
    (`services/sagas/definitions.py`), so this package never imports that folder.
    """

    def confirmation_slip(self, session: Session, now: datetime) -> saga_pb.RoutingSlip: ...

    def cancellation_slip(self, session: Session, now: datetime) -> saga_pb.RoutingSlip: ...

    def refund_slip(self, session_id: str, payment_id: str, now: datetime) -> saga_pb.RoutingSlip: ...

    def release_slip(
        self, session: Session, item: Item, saga_id: str, now: datetime
    ) -> saga_pb.RoutingSlip: ...

    def stray_release_slip(
        self, session_id: str, items: Session | None, participants: set[str], saga_id: str, now: datetime
    ) -> saga_pb.RoutingSlip: ...
