"""The operator console's use cases: read the system's state, replay a dead letter, list operator actions."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bus.dead_letters import DeadLetter
from bus.history import HistoryRecord
from bus.monitoring import GroupFigures
from bus.operator_actions import OperatorAction
from kit.error_reasons import ErrorReason
from kit.errors import FailedPrecondition, NotFound
from services.sessions.domain import TERMINAL, Session, State
from services.sessions.operations.progress import (
    SagaProgress,
    counts_by_state,
    sagas_in_flight,
    with_dead_letters,
)

# Bounds on one read, so a backlog cannot make the console's every refresh unbounded.
MAX_WATCHED_SESSIONS = 500
MAX_ATTENTION_SESSIONS = 100
MAX_CUSTOMER_SESSIONS = 50
MAX_ACTIONS = 100
MAX_OVERVIEW_ACTIONS = 20
# Where sagas run most: read first, so a backlog of open sessions cannot crowd them out.
SAGA_STATES = frozenset({State.CONFIRMING, State.CANCELLING, State.NEEDS_ATTENTION})
OTHER_UNSETTLED = frozenset(State) - TERMINAL - SAGA_STATES


class SessionReads(Protocol):
    async def count_by_state(self) -> dict[State, int]: ...
    async def get(self, session_id: str) -> Session | None: ...
    async def list_for(self, customer_id: str, limit: int, offset: int) -> list[Session]: ...
    async def in_states(self, states: Collection[State], limit: int) -> list[Session]: ...


class BusReads(Protocol):
    async def histories(self, session_ids: Sequence[str]) -> dict[str, dict[str, list[HistoryRecord]]]: ...
    async def dead_letters(self) -> list[DeadLetter]: ...
    async def dead_letter(self, entry_id: str) -> DeadLetter | None: ...
    async def replay(self, entry_id: str, operator: str) -> str | None: ...
    async def actions(self, count: int) -> list[OperatorAction]: ...
    async def lag(self) -> list[GroupFigures]: ...
    async def announce(self, session_id: str) -> None: ...


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    new_entry_id: str


@dataclass(frozen=True)
class Overview:
    counts: dict[State, int]
    sagas: list[SagaProgress]
    attention: list[tuple[Session, list[DeadLetter]]]
    lag: list[GroupFigures]
    read_at: datetime
    actions: list[OperatorAction]


class OperationsConsole:
    def __init__(self, sessions: SessionReads, bus: BusReads, clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._bus = bus
        self._clock = clock

    async def counts(self) -> dict[State, int]:
        return counts_by_state(await self._sessions.count_by_state())

    async def session(self, session_id: str) -> Session:
        session = await self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"session {session_id} not found", reason=ErrorReason.SESSION_NOT_FOUND)
        return session

    async def customer_sessions(self, customer_id: str) -> list[Session]:
        return await self._sessions.list_for(customer_id, MAX_CUSTOMER_SESSIONS, 0)

    async def sagas_in_flight(self) -> list[SagaProgress]:
        watched = await self._sessions.in_states(SAGA_STATES, MAX_WATCHED_SESSIONS)
        if len(watched) < MAX_WATCHED_SESSIONS:
            watched += await self._sessions.in_states(OTHER_UNSETTLED, MAX_WATCHED_SESSIONS - len(watched))
        histories = await self._bus.histories([session.id for session in watched])
        return sagas_in_flight(histories, self._clock())

    async def attention(self) -> list[tuple[Session, list[DeadLetter]]]:
        waiting = await self._sessions.in_states([State.NEEDS_ATTENTION], MAX_ATTENTION_SESSIONS)
        return with_dead_letters(waiting, await self._bus.dead_letters() if waiting else [])

    async def lag(self) -> list[GroupFigures]:
        return await self._bus.lag()

    async def overview(self) -> Overview:
        return Overview(
            counts=await self.counts(),
            sagas=await self.sagas_in_flight(),
            attention=await self.attention(),
            lag=await self.lag(),
            read_at=self._clock(),
            actions=await self._bus.actions(MAX_OVERVIEW_ACTIONS),
        )

    async def actions(self) -> list[OperatorAction]:
        """What operators did to dead letters, newest first."""
        return await self._bus.actions(MAX_ACTIONS)

    async def replay(self, entry_id: str, operator: str) -> Replayed:
        """Replay the dead letter, recorded among the operator actions as done by `operator`."""
        letter = await self._bus.dead_letter(entry_id)
        if letter is None:
            raise NotFound(
                f"dead letter {entry_id} not found; it may have been replayed already",
                reason=ErrorReason.DEAD_LETTER_NOT_FOUND,
            )
        if letter.slip is None:
            raise FailedPrecondition(
                f"dead letter {entry_id} cannot be replayed: its slip cannot be read",
                reason=ErrorReason.DEAD_LETTER_UNREADABLE,
            )
        new_entry_id = await self._bus.replay(entry_id, operator)
        if new_entry_id is None:
            raise NotFound(
                f"dead letter {entry_id} was replayed by someone else just now",
                reason=ErrorReason.DEAD_LETTER_NOT_FOUND,
            )
        if letter.session_id:
            await self._bus.announce(letter.session_id)
        return Replayed(letter, new_entry_id)
