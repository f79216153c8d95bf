"""Per-saga history of step outcomes: how it is written and how it is read back as records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from redis.asyncio import Redis

from bus.keys import BusKeys
from bus.replies import parse_entries


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
    SAGA_COMPLETED = "saga_completed"
    SAGA_COMPENSATED = "saga_compensated"


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


async def read_history(redis: Redis, keys: BusKeys, saga_id: str) -> list[HistoryRecord]:
    """A saga's timeline, oldest first."""
    raw = await redis.xrange(keys.saga_history(saga_id))
    return [_record(saga_id, eid, fields) for eid, fields in parse_entries(raw) if fields]


async def session_saga_ids(redis: Redis, keys: BusKeys, session_id: str) -> list[str]:
    """A session's saga ids, in the order they started."""
    raw = await redis.zrange(keys.session_sagas(session_id), 0, -1)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in raw]


async def read_session_history(
    redis: Redis, keys: BusKeys, session_id: str
) -> dict[str, list[HistoryRecord]]:
    """Every saga of a session with its timeline, in start order."""
    return {
        saga_id: await read_history(redis, keys, saga_id)
        for saga_id in await session_saga_ids(redis, keys, session_id)
    }
