"""Stuck-saga checks: read each claimed session's saga histories, flag the stuck sagas, book the next look.

The sessions process schedules a session's first check when it commits a saga start (at start +
the bound); each check books the next one at the earliest moment one of its sagas could become
stuck, or drops the session once all its sagas finished. Between checks the worker sleeps.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from redis.asyncio import Redis

from bus.deadlines import STUCK_CHECKS
from bus.history import HistoryEvent, history_fields, read_sessions_history
from bus.keys import BusKeys
from bus.ports import CheckSchedule
from bus.replies import text
from bus.session_notices import READ_AGAIN
from bus.stuck_policy import StuckVerdict, judge
from kit.metrics import count_stuck_flag

log = logging.getLogger(__name__)


def stuck_registry_key(namespace: str) -> str:
    """Hash of the sagas flagged stuck and not yet moving again: saga id -> waiting participant."""
    return f"{namespace}:{{{STUCK_CHECKS}}}:flagged"


class StuckSagaCheck:
    def __init__(
        self,
        redis: Redis,
        keys: BusKeys,
        schedule: CheckSchedule,
        bound: timedelta,
        clock: Callable[[], datetime],
        checker: str = "expiry",
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._schedule = schedule
        self._bound = bound
        self._clock = clock
        self._checker = checker
        self._registry = stuck_registry_key(keys.namespace)

    async def check(self, session_ids: Sequence[str]) -> int:
        """Look at the sessions' sagas now; returns how many were flagged stuck."""
        now = self._clock()
        histories = await read_sessions_history(self._redis, self._keys, session_ids)
        next_looks: dict[str, int] = {}
        flags: list[tuple[str, str, StuckVerdict]] = []
        stuck: dict[str, str] = {}
        moving: list[str] = []
        for session_id, sagas in histories.items():
            for saga_id, history in sagas.items():
                verdict = judge(history, now, self._bound)
                if verdict.stuck and verdict.waiting is not None:
                    stuck[saga_id] = verdict.waiting.participant
                else:
                    moving.append(saga_id)
                if verdict.flag:
                    flags.append((session_id, saga_id, verdict))
                if verdict.check_at is not None:
                    due_ms = int(verdict.check_at.timestamp() * 1000)
                    next_looks[session_id] = min(next_looks.get(session_id, due_ms), due_ms)
        await self._record(now, flags, stuck, moving)
        # A saga started meanwhile may have booked an earlier look: it stays.
        await self._schedule.schedule_many(next_looks, keep_earlier=True)
        for _, _, verdict in flags:
            if verdict.waiting is not None:
                count_stuck_flag(verdict.waiting.participant)
        return len(flags)

    async def _record(
        self,
        now: datetime,
        flags: list[tuple[str, str, StuckVerdict]],
        stuck: dict[str, str],
        moving: list[str],
    ) -> None:
        """One round trip: each flag in its saga's history and on its session's change channel.

        Not a transaction: the writes live in several partitions (cluster slots), and each stands alone.
        """
        if not (flags or stuck or moving):
            return
        pipe = self._redis.pipeline(transaction=False)
        for session_id, saga_id, verdict in flags:
            waiting = verdict.waiting
            assert waiting is not None  # a flag is only raised on a saga waiting on a step
            quiet = (now - waiting.since).total_seconds()
            fields = history_fields(
                event=HistoryEvent.FLAGGED_STUCK,
                at=now.timestamp(),
                step=waiting.step,
                participant=waiting.participant,
                detail=f"no progress for {quiet:.0f}s (bound {self._bound.total_seconds():g}s)",
                consumer=self._checker,
            )
            history = self._keys.saga_history(self._keys.partition_of(session_id), saga_id)
            pipe.xadd(history, dict(zip(fields[0::2], fields[1::2], strict=True)))
            # Not counted: the flag is off a booking's path, and its watchers read the session again.
            pipe.publish(self._keys.session_changes(session_id), READ_AGAIN)
            log.warning(
                "saga %s of session %s stuck at %s (%s)",
                saga_id,
                session_id,
                waiting.step,
                waiting.participant,
            )
        if stuck:
            pipe.hset(self._registry, items=[part for pair in stuck.items() for part in pair])
        if moving:
            pipe.hdel(self._registry, *moving)
        await pipe.execute()


async def read_stuck_gauge(redis: Redis, keys: BusKeys) -> list[GaugeMetricFamily]:
    """Sagas flagged stuck and not moving again, by participant; 0 for every known participant."""
    pipe = redis.pipeline(transaction=False)
    pipe.hvals(stuck_registry_key(keys.namespace))
    pipe.smembers(keys.participants())
    waiting_on, participants = await pipe.execute()
    counts = Counter(text(value) for value in waiting_on)
    gauge = GaugeMetricFamily(
        "travel_stuck_sagas",
        "Sagas flagged stuck and not moving again, by the participant they wait on",
        labels=["participant"],
    )
    for participant in sorted(set(counts) | {text(p) for p in participants}):
        gauge.add_metric([participant], float(counts.get(participant, 0)))
    return [gauge]
