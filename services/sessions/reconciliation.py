"""What the sessions database says Redis must hold: deadlines to re-add, sagas to start again. Pure.

The database is the source of truth; Redis may lose data (a restart without persistence, a
failover that drops the last writes, a flush). A session that can expire needs its deadline in the
schedule; a session confirming or cancelling needs a saga the bus still knows. A settled session
whose reserve attempt is still recorded needs the holds that attempt may have left released.
Time is passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from services.reservations.attempts import ReserveAttempt
from services.sessions.domain import EXPIRABLE, TERMINAL, Session, State, touch

# The step name of the event a re-started saga leaves in the session's own timeline.
RECONCILE_STEP = "reconcile"


class Redrive(Enum):
    """Which of the arbiter's sagas a waiting session is owed."""

    CONFIRMATION = "confirmation"
    CANCELLATION = "cancellation"


# A session waits in these states for exactly one saga: the one that moved it there.
_OWED: dict[State, Redrive] = {
    State.CONFIRMING: Redrive.CONFIRMATION,
    State.CANCELLING: Redrive.CANCELLATION,
}
REDRIVABLE = frozenset(_OWED)


def saga_owed(state: State) -> Redrive | None:
    """The saga a session in `state` waits for; None when it waits for none (or for an operator)."""
    return _OWED.get(state)


@dataclass(frozen=True)
class Unfinished:
    """What the sweep reads of every session not yet settled: enough to judge it without the rest."""

    session_id: str
    expires_at: datetime
    state: State
    updated_at: datetime


def deadlines_to_restore(unfinished: Iterable[Unfinished], scheduled: Collection[str]) -> dict[str, int]:
    """Expirable sessions whose deadline the schedule no longer holds, waiting or claimed (epoch ms).

    A deadline already past is restored too: the expiry worker then claims it at once.
    """
    return {
        u.session_id: int(u.expires_at.timestamp() * 1000)
        for u in unfinished
        if u.state in EXPIRABLE and u.session_id not in scheduled
    }


def maybe_overdue(unfinished: Iterable[Unfinished], now: datetime, bound: timedelta) -> list[str]:
    """The sessions worth reading whole to judge with `overdue`: waiting for a saga, unchanged for
    `bound` as of the summary read. Most unfinished sessions are not, and are never read whole."""
    return [u.session_id for u in unfinished if u.state in REDRIVABLE and now - u.updated_at >= bound]


def overdue(sessions: Iterable[Session], now: datetime, bound: timedelta) -> list[Session]:
    """Sessions waiting for a saga, unchanged for `bound` or longer; least recently changed first.

    A saga normally moves its session on well within the bound; younger ones are left alone so a
    start still in the outbox is not mistaken for a lost one.
    """
    waiting = [s for s in sessions if s.state in REDRIVABLE and now - s.updated_at >= bound]
    return sorted(waiting, key=lambda s: (s.updated_at, s.id))


def forgotten(owed: Mapping[str, Session], remembered: Collection[str]) -> list[tuple[str, Session]]:
    """The (saga id, session) pairs whose saga the bus keeps nothing of: no step markers, no history.

    A saga the bus still remembers is moving, retrying, parked as a dead letter or stuck: the
    consumers, the dead-letter watcher and the stuck-saga checks answer for it. Publishing it again
    would be refused by its start marker anyway.
    """
    return [(saga_id, session) for saga_id, session in owed.items() if saga_id not in remembered]


def redriven(found: Session | None, judged: Session, now: datetime) -> Session | None:
    """The session to write alongside its saga's new start, or None when it changed since it was judged.

    Writing it over the version judged (a compare-and-set) means a session that moved on meanwhile
    (completed, or its saga restarted by another replica) gets no second start from this look; the
    new `updated_at` makes the next look wait a whole bound again.
    """
    if found is None or found.version != judged.version or found.state not in REDRIVABLE:
        return None
    return touch(found, now)


def redrive_event(now: datetime, saga_id: str, state: State) -> dict[str, Any]:
    """The session event that tells its timeline why its saga started again."""
    return {
        "time": now,
        "kind": "session",
        "step": RECONCILE_STEP,
        "outcome": "SAGA_RESTARTED",
        "detail": f"the bus kept nothing of saga {saga_id} while the session was {state.value}",
        "saga_id": saga_id,
    }


def attempts_to_sweep(
    attempts: Iterable[ReserveAttempt], sessions: Mapping[str, Session]
) -> dict[str, list[ReserveAttempt]]:
    """Session id -> its attempts left behind, for the sessions settled for good (or never opened).

    Such a session takes no attach any more, so every hold under its reference that none of its
    items points to is a stray. An attempt of a session still moving waits: the session's own
    sagas may release the stray, and an attach may yet claim the hold.
    """
    swept: dict[str, list[ReserveAttempt]] = {}
    for attempt in attempts:
        session = sessions.get(attempt.session_id)
        if session is None or session.state in TERMINAL:
            swept.setdefault(attempt.session_id, []).append(attempt)
    return swept


@dataclass(frozen=True)
class Repairs:
    """What one sweep put back."""

    deadlines: int = 0
    sagas: int = 0
    # Sessions whose strays a release saga was started for.
    strays: int = 0

    @property
    def any(self) -> bool:
        return bool(self.deadlines or self.sagas or self.strays)
