"""In-memory SessionStore: compare-and-set on version, events and writes committed whole or not at all."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar, cast

from kit.database import Connection
from kit.errors import Conflict
from kit.request_ids import FirstResult, RequestKey, replayed
from services.sessions.domain import TERMINAL, Session, State
from services.sessions.open_limit import OpenSessions
from services.sessions.ports import Change, CommitListener
from services.sessions.reconciliation import Unfinished

T = TypeVar("T")


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    session_id: str
    time: datetime
    kind: str
    step: str
    outcome: str
    detail: str
    saga_id: str


class _NoDatabase:
    """What a transactional write gets here: any use of it fails, and the change rolls back."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an in-memory session store has no database connection ({name})")


class FakeSessionStore:
    def __init__(self, committed: CommitListener | None = None, connection: Connection | None = None) -> None:
        self._sessions: dict[str, Session] = {}
        self._events: list[StoredEvent] = []
        self._requests: dict[tuple[str, str], FirstResult] = {}
        self._committed = committed
        self._connection = connection or cast(Connection, _NoDatabase())

    async def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def get_many(self, session_ids: Sequence[str]) -> list[Session]:
        return [self._sessions[sid] for sid in dict.fromkeys(session_ids) if sid in self._sessions]

    async def list_for(self, customer_id: str, limit: int, offset: int) -> list[Session]:
        mine = [s for s in self._sessions.values() if s.customer_id == customer_id]
        mine.sort(key=lambda s: s.id)
        mine.sort(key=lambda s: s.created_at, reverse=True)
        return mine[offset : offset + limit]

    async def non_terminal(self, after: str, limit: int) -> list[Unfinished]:
        found = sorted(
            (Unfinished(s.id, s.expires_at, s.state, s.updated_at) for s in self._sessions.values()
             if s.state not in TERMINAL and s.id > after),
            key=lambda u: u.session_id,
        )  # fmt: skip
        return found[:limit]

    async def insert_unless(
        self,
        session: Session,
        events: Sequence[dict[str, Any]],
        counted: Collection[State],
        refuse: Callable[[OpenSessions], Exception | None],
        request: RequestKey | None = None,
    ) -> Session | None:
        if request is not None:
            recorded = self._requests.get((request.scope, request.request_id))
            first = replayed(recorded, request, session.created_at)
            if first is not None and first.resource_id in self._sessions:
                return self._sessions[first.resource_id]
        mine = [
            s for s in self._sessions.values() if s.customer_id == session.customer_id and s.state in counted
        ]
        earliest = min((s.expires_at for s in mine), default=None)
        refusal = refuse(OpenSessions(count=len(mine), earliest_deadline=earliest))
        if refusal is not None:
            raise refusal
        # The table's primary key refuses a second row; a test doing this has a bug.
        assert session.id not in self._sessions, f"session {session.id} exists already"
        self._sessions[session.id] = session
        self._add_events(session.id, events)
        if request is not None:
            first = FirstResult(request.fingerprint, session.id, None, session.created_at)
            self._requests[(request.scope, request.request_id)] = first
        return None

    async def transition(
        self, session_id: str, decide: Callable[[Session | None], tuple[Change | None, T]]
    ) -> T:
        change, result = decide(self._sessions.get(session_id))
        if change is not None:
            self._commit([change])
        return result

    async def transition_many(
        self, session_ids: Sequence[str], decide: Callable[[list[Session]], tuple[Sequence[Change], T]]
    ) -> T:
        changes, result = decide(await self.get_many(session_ids))
        self._commit(changes)
        return result

    async def events(self, session_id: str) -> list[StoredEvent]:
        return [event for event in self._events if event.session_id == session_id]

    async def with_events(self, session_id: str) -> tuple[Session | None, list[StoredEvent]]:
        session = self._sessions.get(session_id)
        return session, [] if session is None else await self.events(session_id)

    def _commit(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        sessions, events = dict(self._sessions), list(self._events)
        try:
            for change in changes:
                stored = self._sessions.get(change.session.id)
                if stored is None or stored.version != change.expected_version:
                    raise Conflict("a session changed concurrently")
                # Owner and creation time are never rewritten, as in the table's update.
                kept = replace(change.session, customer_id=stored.customer_id, created_at=stored.created_at)
                self._sessions[change.session.id] = kept
            for change in changes:
                self._add_events(change.session.id, change.events)
            for change in changes:
                for write in change.writes:
                    write(self._connection)
        except BaseException:
            self._sessions, self._events = sessions, events
            raise
        if self._committed is not None:
            self._committed(changes)

    def _add_events(self, session_id: str, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            self._events.append(
                StoredEvent(
                    seq=len(self._events) + 1,
                    session_id=session_id,
                    time=event["time"],
                    kind=event["kind"],
                    step=event["step"],
                    outcome=event["outcome"],
                    detail=event.get("detail", ""),
                    saga_id=event.get("saga_id", ""),
                )
            )
