"""Per-saga history of step outcomes: how it is written and how it is read back as records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from bus.keys import BusKeys
from bus.replies import parse_entries, text


class HistoryEvent(StrEnum):
    """What happened to a saga at one point of its life."""

    STARTED = "started"
    COMPLETED = "completed"
    REFUSED = "refused"
    COMPENSATING = "compensating"
    RETRY_SCHEDULED = "retry_scheduled"
    DUPLICATE_SKIPPED = "duplicate_skipped"
    DEAD_LETTERED = "dead_lettered"
    REPLAYED = "replayed"
    FLAGGED_STUCK = "flagged_stuck"
    SAGA_COMPLETED = "saga_completed"
    SAGA_COMPENSATED = "saga_compensated"


def outcome(event: HistoryEvent) -> str:
    """A history event as a session's timeline shows it: the SagaEvent value's name without prefix."""
    return event.name


@dataclass(frozen=True)
class HistoryRecord:
    """One line of a saga's timeline."""

    saga_id: str
    entry_id: str
    at: datetime
    event: HistoryEvent
    step: str
    participant: str
    phase: str
    attempt: int
    detail: str
    consumer: str


def history_fields(
    *,
    event: HistoryEvent,
    at: float,
    step: str = "",
    participant: str = "",
    phase: str = "",
    attempt: int = 0,
    detail: str = "",
    consumer: str = "",
) -> list[str]:
    """Flat field/value list of one history entry (plain fields, readable with XRANGE)."""
    return [
        "event", event.value,
        "at_ms", str(int(at * 1000)),
        "step", step,
        "participant", participant,
        "phase", phase,
        "attempt", str(attempt),
        "detail", detail,
        "consumer", consumer,
    ]  # fmt: skip


# The detail of a duplicate_skipped record the commit script writes (bus.scripts.COMMIT).
DUPLICATE_DETAIL = "step already done"


def as_duplicate(record: Sequence[str]) -> list[str]:
    """A history record as the commit script rewrites it for a step already done (bus.scripts.COMMIT)."""
    out = list(record)
    for j in range(0, len(out) - 1, 2):
        if out[j] == "event":
            out[j + 1] = HistoryEvent.DUPLICATE_SKIPPED.value
        elif out[j] == "detail":
            out[j + 1] = DUPLICATE_DETAIL
    return out


def next_step_detail(step: str, participant: str) -> str:
    """A completed step's detail: the step the saga goes to next, and who runs it."""
    return f"next {step} at {participant}"


def next_step_of(detail: str) -> tuple[str, str] | None:
    """The (step, participant) a completed step's detail names, if it names one."""
    words = detail.split()
    if len(words) == 4 and words[0] == "next" and words[2] == "at":
        return words[1], words[3]
    return None


def _record(saga_id: str, entry_id: str, fields: dict[str, str]) -> HistoryRecord:
    return HistoryRecord(
        saga_id=saga_id,
        entry_id=entry_id,
        at=datetime.fromtimestamp(int(fields.get("at_ms", "0")) / 1000, tz=UTC),
        event=HistoryEvent(fields.get("event", "")),
        step=fields.get("step", ""),
        participant=fields.get("participant", ""),
        phase=fields.get("phase", ""),
        attempt=int(fields.get("attempt", "0")),
        detail=fields.get("detail", ""),
        consumer=fields.get("consumer", ""),
    )


async def read_history(
    redis: Redis, keys: BusKeys, saga_id: str, session_id: str | None = None
) -> list[HistoryRecord]:
    """A saga's timeline, oldest first; without its session, looked for in every partition."""
    if session_id is not None:
        partitions: Sequence[int] = [keys.partition_of(session_id)]
    else:
        partitions = keys.all_partitions()
    pipe = redis.pipeline(transaction=False)
    for partition in partitions:
        pipe.xrange(keys.saga_history(partition, saga_id))
    raw: list[Any] = next((found for found in await pipe.execute() if found), [])
    return [_record(saga_id, eid, fields) for eid, fields in parse_entries(raw) if fields]


async def session_saga_ids(redis: Redis, keys: BusKeys, session_id: str) -> list[str]:
    """A session's saga ids, in the order they started."""
    raw = await redis.zrange(keys.session_sagas(session_id), 0, -1)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in raw]


async def read_session_history(
    redis: Redis, keys: BusKeys, session_id: str
) -> dict[str, list[HistoryRecord]]:
    """Every saga of a session with its timeline, in start order: two round trips however many sagas."""
    saga_ids = await session_saga_ids(redis, keys, session_id)
    if not saga_ids:
        return {}
    partition = keys.partition_of(session_id)
    pipe = redis.pipeline(transaction=False)
    for saga_id in saga_ids:
        pipe.xrange(keys.saga_history(partition, saga_id))
    replies = await pipe.execute()
    return {
        saga_id: [_record(saga_id, eid, fields) for eid, fields in parse_entries(raw) if fields]
        for saga_id, raw in zip(saga_ids, replies, strict=True)
    }


async def read_sessions_history(
    redis: Redis, keys: BusKeys, session_ids: Sequence[str]
) -> dict[str, dict[str, list[HistoryRecord]]]:
    """`read_session_history` for many sessions at once, still in two round trips."""
    if not session_ids:
        return {}
    pipe = redis.pipeline(transaction=False)
    for session_id in session_ids:
        pipe.zrange(keys.session_sagas(session_id), 0, -1)
    saga_lists = [[text(v) for v in raw] for raw in await pipe.execute()]
    pipe = redis.pipeline(transaction=False)
    for session_id, saga_ids in zip(session_ids, saga_lists, strict=True):
        for saga_id in saga_ids:
            pipe.xrange(keys.saga_history(keys.partition_of(session_id), saga_id))
    replies = iter(await pipe.execute())
    return {
        session_id: {
            saga_id: [_record(saga_id, eid, fields) for eid, fields in parse_entries(next(replies)) if fields]
            for saga_id in saga_ids
        }
        for session_id, saga_ids in zip(session_ids, saga_lists, strict=True)
    }
