"""Dead letters: list them, show one, replay it to its participant with a fresh budget, or discard it.

Each partition keeps its own dead-letter stream; a dead letter is named `p<partition>-<entry id>`,
so the name alone says where it lives.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.entries import entry_fields, read_slip
from bus.errors import UndecodableEntry
from bus.history import HistoryEvent, history_fields
from bus.keys import BusKeys, entry_name
from bus.operator_actions import ACTIONS_PER_PARTITION, ActionKind, Audit, action_fields
from bus.replies import parse_entries
from bus.scripts import DISCARD_SCRIPT, REPLAY_SCRIPT
from bus.slip import reset_attempts

# A dead letter's name, as `bus.keys.entry_name` makes it.
_LETTER_ID = re.compile(r"p([0-9]{1,4})-([0-9]{1,20}-[0-9]{1,20})")


def letter_location(keys: BusKeys, name: str) -> tuple[int, str] | None:
    """(partition, entry id) of a dead letter's name; None for a name no dead letter can have."""
    match = _LETTER_ID.fullmatch(name)
    if match is None or int(match[1]) >= keys.partitions:
        return None
    return int(match[1]), match[2]


@dataclass(frozen=True)
class DeadLetter:
    """An entry the bus gave up on, with the last error and where it came from."""

    entry_id: str  # its name: partition and entry id in the partition's dead-letter stream
    saga_id: str
    session_id: str
    step: str
    participant: str
    error: str
    deliveries: int
    attempt: int
    dead_at: datetime
    source_id: str
    slip: pb.RoutingSlip | None
    # What the step raised when the bus gave up on it (empty for an over-delivered or unreadable entry).
    failure_kind: str = ""
    error_type: str = ""
    error_message: str = ""


def _dead_letter(partition: int, entry_id: str, fields: dict[str, str]) -> DeadLetter:
    try:
        slip: pb.RoutingSlip | None = read_slip(fields)
    except UndecodableEntry:
        slip = None
    return DeadLetter(
        entry_id=entry_name(partition, entry_id),
        saga_id=fields.get("saga_id", ""),
        session_id=fields.get("session_id", ""),
        step=fields.get("step", ""),
        participant=fields.get("participant", ""),
        error=fields.get("error", ""),
        deliveries=int(fields.get("deliveries", "0") or 0),
        attempt=int(fields.get("attempt", "0") or 0),
        dead_at=datetime.fromtimestamp(int(fields.get("dead_at_ms", "0")) / 1000, tz=UTC),
        source_id=fields.get("source_id", ""),
        slip=slip,
        failure_kind=fields.get("failure_kind", ""),
        error_type=fields.get("error_type", ""),
        error_message=fields.get("error_message", ""),
    )


async def list_dead_letters(redis: Redis, keys: BusKeys, count: int = 100) -> list[DeadLetter]:
    """Oldest dead letters first, from every partition: at most `count`."""
    pipe = redis.pipeline(transaction=False)
    for partition in keys.all_partitions():
        pipe.xrange(keys.dead_letters(partition), count=count)
    letters = [
        _dead_letter(partition, eid, fields)
        for partition, raw in zip(keys.all_partitions(), await pipe.execute(), strict=True)
        for eid, fields in parse_entries(raw)
        if fields
    ]
    return sorted(letters, key=lambda letter: (letter.dead_at, letter.entry_id))[:count]


async def get_dead_letter(redis: Redis, keys: BusKeys, name: str) -> DeadLetter | None:
    """The dead letter called `name`; None when there is none (or no dead letter can have the name)."""
    location = letter_location(keys, name)
    if location is None:
        return None
    partition, entry_id = location
    raw = await redis.xrange(keys.dead_letters(partition), min=entry_id, max=entry_id)
    found = [_dead_letter(partition, eid, fields) for eid, fields in parse_entries(raw) if fields]
    return found[0] if found else None


def _audited(letter: DeadLetter, kind: ActionKind, audit: Audit, now: float) -> list[str]:
    return action_fields(
        kind, audit, at=now, entry_id=letter.entry_id, saga_id=letter.saga_id,
        session_id=letter.session_id, step=letter.step, participant=letter.participant, error=letter.error,
    )  # fmt: skip


async def replay_dead_letter(
    redis: Redis,
    keys: BusKeys,
    entry_id: str,
    *,
    clock: Callable[[], float] = time.time,
    audit: Audit | None = None,
) -> str | None:
    """Send the dead letter's slip back to its participant; None if absent or already replayed.

    With `audit`, the replay is recorded among the partition's operator actions in the same step.
    """
    letter = await get_dead_letter(redis, keys, entry_id)
    location = letter_location(keys, entry_id)
    if letter is None or letter.slip is None or location is None:
        return None
    partition, stream_id = location
    now = clock()
    fresh = reset_attempts(letter.slip, datetime.fromtimestamp(now, tz=UTC))
    fields = entry_fields(fresh, now)
    history = history_fields(
        event=HistoryEvent.REPLAYED,
        at=now,
        step=letter.step,
        participant=letter.participant,
        detail=f"dead letter {entry_id} replayed after: {letter.error}",
    )
    script_keys = [
        keys.dead_letters(partition),
        keys.stream(partition, letter.participant),
        keys.saga_history(partition, letter.saga_id),
    ]
    action: list[str] = []
    if audit is not None:
        script_keys.append(keys.operator_actions(partition))
        action = _audited(letter, ActionKind.REPLAY, audit, now)
    new_id = await REPLAY_SCRIPT.call(
        redis,
        script_keys,
        [stream_id, len(fields), len(history), ACTIONS_PER_PARTITION, *fields, *history, *action],
    )
    if new_id is None:
        return None
    return new_id.decode() if isinstance(new_id, bytes) else str(new_id)


async def discard_dead_letter(
    redis: Redis,
    keys: BusKeys,
    entry_id: str,
    audit: Audit,
    *,
    clock: Callable[[], float] = time.time,
) -> DeadLetter | None:
    """Take the dead letter off its stream for good, recording who did it and why; the letter as it
    was, or None if absent (already replayed or discarded). Nothing is sent to any participant."""
    if not audit.reason.strip():
        raise ValueError("discarding a dead letter needs a reason")
    letter = await get_dead_letter(redis, keys, entry_id)
    location = letter_location(keys, entry_id)
    if letter is None or location is None:
        return None
    partition, stream_id = location
    action = _audited(letter, ActionKind.DISCARD, audit, clock())
    script_keys = [keys.dead_letters(partition), keys.operator_actions(partition)]
    recorded = await DISCARD_SCRIPT.call(redis, script_keys, [stream_id, ACTIONS_PER_PARTITION, *action])
    return None if recorded is None else letter
