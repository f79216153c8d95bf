"""A saga whose participant is not consuming is flagged stuck by the expiry process, once per episode."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bus.deadlines import STUCK_CHECKS, DeadlineSchedule
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from bus.session_notices import READ_AGAIN
from services.sagas.definitions import refund_slip
from tests.integration.module_process import Started, start_process
from tests.support.polling import eventually
from tests.support.pubsub import bytes_client_like

BOUND_SECONDS = 1
# The expiry process starts up, then looks a bound later: more than the usual deadline.
DEADLINE_SECONDS = 30.0


@pytest.fixture
def namespace() -> str:
    return f"stuck{uuid.uuid4().hex[:10]}"


@pytest.fixture
def expiry(tmp_path: Path, redis_url: str, namespace: str) -> Iterator[Started]:
    env = {
        "TRAVEL_DATA_DIR": str(tmp_path),
        "REDIS_URL": redis_url,
        "TRAVEL_NAMESPACE": namespace,
        "STUCK_SAGA_AFTER_SECONDS": str(BOUND_SECONDS),
        "SESSIONS_GRPC_ADDR": "127.0.0.1:9",  # never called: no session deadline is due
    }
    yield from start_process("services.expiry", env, listening=None)


def sample(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


async def test_a_saga_waiting_on_a_participant_that_does_not_consume_is_flagged_once(
    expiry: Started, redis: Redis, namespace: str
) -> None:
    keys = BusKeys(namespace)
    session_id = f"sess-{uuid.uuid4().hex[:8]}"
    slip = refund_slip(session_id, f"pay-{uuid.uuid4().hex[:8]}", datetime.now(UTC))
    listener = bytes_client_like(redis)
    changes = listener.pubsub()
    await changes.subscribe(keys.session_changes(session_id))
    try:
        # What the sessions process does when it commits a saga start: book the first check.
        checks = DeadlineSchedule(redis, keys, name=STUCK_CHECKS)
        assert await start_saga(redis, keys, slip) is not None
        await checks.schedule(session_id, int((time.time() + BOUND_SECONDS) * 1000))

        async def flags() -> list[Any]:
            history = await read_history(redis, keys, slip.saga_id)
            return [r for r in history if r.event is HistoryEvent.FLAGGED_STUCK]

        flagged = await eventually(flags, timeout=DEADLINE_SECONDS, what="the saga to be flagged stuck")
        assert [(r.step, r.participant) for r in flagged] == [("payments.refund", "payments")]

        async def notice() -> Any:
            message = await changes.get_message(ignore_subscribe_messages=True, timeout=0.1)
            # Not carried: the session's watchers are told to read the session again.
            return message if message and message["data"] == READ_AGAIN else None

        await eventually(notice, timeout=DEADLINE_SECONDS, what="the session's change notice")
        text = expiry.metrics_text()
        assert sample(text, "travel_stuck_saga_flags_total", participant="payments") == 1
        assert sample(text, "travel_stuck_sagas", participant="payments") == 1

        # The next look, a bound later, finds the same episode: it books another and flags nothing more.
        first_look = await checks.next_due_ms()
        assert first_look is not None

        async def looked_again() -> bool:
            score = await redis.zscore(checks.deadlines_key(keys.partition_of(session_id)), session_id)
            return score is not None and score > first_look

        await eventually(looked_again, timeout=DEADLINE_SECONDS, what="the next stuck check")
        assert len(await flags()) == 1
    finally:
        await changes.aclose()
        await listener.aclose()
        await redis.delete(*[key async for key in redis.scan_iter(match=f"{namespace}:*")])


async def test_a_check_booked_for_an_earlier_saga_stays_when_a_later_one_books(
    redis: Redis, namespace: str
) -> None:
    keys = BusKeys(namespace)
    checks = DeadlineSchedule(redis, keys, name=STUCK_CHECKS)

    async def booked(session_id: str) -> float | None:
        return await redis.zscore(checks.deadlines_key(keys.partition_of(session_id)), session_id)

    try:
        await checks.schedule_many({"sess-1": 5000}, keep_earlier=True)
        await checks.schedule_many({"sess-1": 9000, "sess-2": 7000}, keep_earlier=True)
        assert [await booked("sess-1"), await booked("sess-2")] == [5000.0, 7000.0]
        await checks.schedule_many({"sess-1": 3000}, keep_earlier=True)
        assert await booked("sess-1") == 3000.0
    finally:
        await redis.delete(*checks.all_keys())
