"""What operators did to dead letters (replays, discards): who, when, which letter, why; read newest first.

Each partition keeps its own capped stream of actions beside its dead letters, so the script that
replays or discards a letter writes the action's record in the same step; the tooling reads every
partition's as one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from redis.asyncio import Redis

from bus.keys import BusKeys, entry_name
from bus.replies import parse_entries

# Per partition: old actions go first once a partition holds about this many (MAXLEN ~).
ACTIONS_PER_PARTITION = 10_000
# Longest reason and operator name kept; longer ones are cut, never refused.
MAX_REASON = 500
MAX_OPERATOR = 200


class ActionKind(StrEnum):
    REPLAY = "replay"
    DISCARD = "discard"


@dataclass(frozen=True)
class Audit:
    """Who acts on a dead letter, through which tool, and why (a discard needs a reason)."""

    operator: str
    via: str  # the tool the operator used: cli, console
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.operator.strip():
            raise ValueError("an operator action needs the operator's name")


@dataclass(frozen=True)
class OperatorAction:
    """One recorded action on one dead letter."""

    action_id: str  # p<partition>-<id in that partition's operator-actions stream>
    at: datetime
    action: ActionKind
    operator: str
    via: str
    reason: str
    entry_id: str  # the dead letter's name
    saga_id: str
    session_id: str
    step: str
    participant: str
    error: str  # the dead letter's last error
    replayed_entry_id: str  # the participant's new entry, for a replay


def action_fields(
    kind: ActionKind,
    audit: Audit,
    *,
    at: float,
    entry_id: str,
    saga_id: str,
    session_id: str,
    step: str,
    participant: str,
    error: str,
) -> list[str]:
    """Flat field/value list of one action (plain fields, readable with XRANGE)."""
    return [
        "action", kind.value,
        "at_ms", str(int(at * 1000)),
        "operator", audit.operator.strip()[:MAX_OPERATOR],
        "via", audit.via,
        "reason", audit.reason.strip()[:MAX_REASON],
        "entry_id", entry_id,
        "saga_id", saga_id,
        "session_id", session_id,
        "step", step,
        "participant", participant,
        "error", error,
    ]  # fmt: skip


def _action(partition: int, stream_id: str, fields: dict[str, str]) -> OperatorAction | None:
    try:
        kind = ActionKind(fields.get("action", ""))
    except ValueError:
        return None  # written by a newer version: not shown rather than misread
    return OperatorAction(
        action_id=entry_name(partition, stream_id),
        at=datetime.fromtimestamp(int(fields.get("at_ms", "0") or 0) / 1000, tz=UTC),
        action=kind,
        operator=fields.get("operator", ""),
        via=fields.get("via", ""),
        reason=fields.get("reason", ""),
        entry_id=fields.get("entry_id", ""),
        saga_id=fields.get("saga_id", ""),
        session_id=fields.get("session_id", ""),
        step=fields.get("step", ""),
        participant=fields.get("participant", ""),
        error=fields.get("error", ""),
        replayed_entry_id=fields.get("replayed_entry_id", ""),
    )


async def list_operator_actions(redis: Redis, keys: BusKeys, count: int = 100) -> list[OperatorAction]:
    """Newest actions first, from every partition: at most `count`."""
    pipe = redis.pipeline(transaction=False)
    for partition in keys.all_partitions():
        pipe.xrevrange(keys.operator_actions(partition), count=count)
    found = [
        action
        for partition, raw in zip(keys.all_partitions(), await pipe.execute(), strict=True)
        for stream_id, fields in parse_entries(raw)
        if fields and (action := _action(partition, stream_id, fields)) is not None
    ]
    return sorted(found, key=lambda a: (a.at, a.action_id), reverse=True)[:count]
