"""Start a saga: write its slip to the first participant's stream, once per saga step."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.entries import entry_fields, phase_label
from bus.errors import InvalidSlip
from bus.history import HistoryEvent, history_fields
from bus.keys import BusKeys
from bus.scripts import PUBLISH_SCRIPT
from bus.session_notices import history_events, notice_body
from bus.slip import current_step, step_sequence
from bus.slip_trace import stamp_current_trace

DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


def publish_call(
    keys: BusKeys, slip: pb.RoutingSlip, now: float, retention_ms: int = DEFAULT_RETENTION_MS
) -> tuple[list[str], list[Any]]:
    """Keys and arguments of the PUBLISH script for `slip` (also used by the outbox relay)."""
    step = current_step(slip)
    if step is None:
        raise InvalidSlip(f"saga {slip.saga_id} has no step to publish")
    fields = entry_fields(slip, now)
    history = history_fields(
        event=HistoryEvent.STARTED,
        at=now,
        step=step.name,
        participant=step.participant,
        phase=phase_label(slip.phase),
        detail=f"published to {step.participant}",
    )
    partition = keys.partition_of(slip.session_id)
    script_keys = [
        keys.saga_steps(partition, slip.saga_id),
        keys.saga_history(partition, slip.saga_id),
        keys.stream(partition, step.participant),
        keys.session_sagas(slip.session_id),
        keys.session_notices(slip.session_id),
    ]
    marker = f"publish:{step_sequence(slip)}:{step.name}"
    changes = keys.session_changes(slip.session_id)
    notice = notice_body(history_events(slip.saga_id, [history]))
    args: list[Any] = [
        marker, retention_ms, int(now * 1000), slip.saga_id, changes, notice, len(fields), *fields, *history
    ]  # fmt: skip
    return script_keys, args


async def start_saga(
    redis: Redis,
    keys: BusKeys,
    slip: pb.RoutingSlip,
    *,
    clock: Callable[[], float] = time.time,
    retention_ms: int = DEFAULT_RETENTION_MS,
) -> str | None:
    """Publish the slip to its first participant (in the current trace, unless it carries one);
    None if this saga step was published before."""
    stamp_current_trace(slip)
    script_keys, args = publish_call(keys, slip, clock(), retention_ms)
    entry_id = await PUBLISH_SCRIPT.call(redis, script_keys, args)
    if entry_id is None:
        return None
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
