"""When a saga is stuck: its current step has not moved on for longer than a bound. Pure (time passed in).

A step moves on when the saga starts, a step completes, a refusal turns it to compensation or an
operator replays it; retries and skipped duplicates are not progress. A finished saga is never
stuck, nor is a dead-lettered one (its dead letter already asks for an operator). One stuck
episode is flagged once: a FLAGGED_STUCK record after the last progress ends the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bus.history import HistoryEvent, HistoryRecord, next_step_of

PROGRESS = frozenset(
    {
        HistoryEvent.STARTED,
        HistoryEvent.COMPLETED,
        HistoryEvent.REFUSED,
        HistoryEvent.COMPENSATING,
        HistoryEvent.REPLAYED,
    }
)
FINISHED = frozenset({HistoryEvent.SAGA_COMPLETED, HistoryEvent.SAGA_COMPENSATED})
# Records that name the step the saga is on (a completed step's record names the one after it).
_NAMES_CURRENT_STEP = frozenset(
    {HistoryEvent.STARTED, HistoryEvent.COMPENSATING, HistoryEvent.REPLAYED, HistoryEvent.RETRY_SCHEDULED}
)
UNKNOWN_PARTICIPANT = "unknown"


@dataclass(frozen=True)
class Waiting:
    """The step a saga waits on, who runs it, and since when nothing moved."""

    step: str
    participant: str
    since: datetime


@dataclass(frozen=True)
class StuckVerdict:
    """What one look at a saga's history says; `check_at` is None once nothing is left to watch."""

    waiting: Waiting | None
    stuck: bool
    flag: bool
    check_at: datetime | None


FINISHED_VERDICT = StuckVerdict(waiting=None, stuck=False, flag=False, check_at=None)


def judge(history: Sequence[HistoryRecord], now: datetime, bound: timedelta) -> StuckVerdict:
    """Is the saga stuck at `now`, should it be flagged now, and when to look at it again."""
    if not history or any(record.event in FINISHED for record in history):
        return FINISHED_VERDICT
    last_progress = _last_index(history, PROGRESS)
    if last_progress is None:
        return FINISHED_VERDICT  # no start on record: its history expired, nothing left to watch
    since_progress = history[last_progress + 1 :]
    waiting = _waiting(history[last_progress], since_progress)
    if any(record.event is HistoryEvent.DEAD_LETTERED for record in since_progress):
        # Parked for an operator; looked at again in case a replay sets it going.
        return StuckVerdict(waiting=waiting, stuck=False, flag=False, check_at=now + bound)
    if now - waiting.since < bound:
        return StuckVerdict(waiting=waiting, stuck=False, flag=False, check_at=waiting.since + bound)
    flagged = any(record.event is HistoryEvent.FLAGGED_STUCK for record in since_progress)
    return StuckVerdict(waiting=waiting, stuck=True, flag=not flagged, check_at=now + bound)


def _last_index(history: Sequence[HistoryRecord], events: frozenset[HistoryEvent]) -> int | None:
    for index in range(len(history) - 1, -1, -1):
        if history[index].event in events:
            return index
    return None


def _waiting(progress: HistoryRecord, after: Sequence[HistoryRecord]) -> Waiting:
    """The step named by the latest record that names the current one, else by the progress record."""
    for record in reversed(after):
        if record.event in _NAMES_CURRENT_STEP and record.participant:
            return Waiting(record.step, record.participant, progress.at)
    if progress.event is HistoryEvent.COMPLETED:
        following = next_step_of(progress.detail)
        if following is not None:
            return Waiting(following[0], following[1], progress.at)
        return Waiting("", UNKNOWN_PARTICIPANT, progress.at)
    return Waiting(progress.step, progress.participant or UNKNOWN_PARTICIPANT, progress.at)
