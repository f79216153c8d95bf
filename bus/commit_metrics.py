"""What a participant's committed batch adds to the process metrics: hops, retries, dead letters, sagas."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bus.history import HistoryEvent
from bus.outcomes import Commit
from kit.metrics import (
    count_dead_letter,
    count_retry_scheduled,
    count_steps_committed,
    observe_saga_finished,
)


def count_commits(participant: str, commits: Sequence[Commit]) -> None:
    """Called once the batch is committed, so a batch that failed to commit counts nothing."""
    count_steps_committed(participant, len(commits))
    for commit in commits:
        if commit.event is HistoryEvent.RETRY_SCHEDULED:
            count_retry_scheduled(participant)
        elif commit.event is HistoryEvent.DEAD_LETTERED:
            count_dead_letter(participant)
        if commit.finished is not None:
            end = commit.finished
            observe_saga_finished(end.kind, end.outcome, time.time() - end.created_at)
