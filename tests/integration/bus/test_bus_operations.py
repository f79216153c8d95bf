"""Operations: backoff timing on an injected clock, dead letters and replay, CLI, lag, trimming."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from bus_harness import confirm_slip
from redis.asyncio import Redis

from bus.backoff import RetryPolicy
from bus.consumer import Participant
from bus.context import StepContext
from bus.dead_letters import list_dead_letters, replay_dead_letter
from bus.errors import TransientFailure
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.monitoring import group_figures
from bus.publisher import start_saga
from bus.settings import ConsumerSettings
from bus.trimming import trim_stream
from tests.support.polling import eventually
from tools import bus_cli as cli

POLICY = RetryPolicy(max_attempts=3, base_delay_s=2.0, max_delay_s=60.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def hotel(client: Redis, namespace: str, clock: FakeClock, fail: list[bool]) -> Participant:
    async def confirm(context: StepContext) -> Mapping[str, str] | None:
        if fail[0]:
            raise TransientFailure("provider 503")
        return None

    settings = ConsumerSettings(block_ms=10, retry=POLICY, promote_interval_s=0, trim_interval_s=3600)
    return Participant(
        client, namespace=namespace, participant="hotel", consumer="c1",
        handlers={"hotel.confirm": confirm}, settings=settings, clock=clock,
        random_unit=lambda: 0.5,
    )  # fmt: skip


async def test_retry_waits_for_its_backoff_then_dead_letters_then_replays(
    client: Redis, keys: BusKeys, namespace: str
) -> None:
    clock, fail = FakeClock(), [True]
    participant = hotel(client, namespace, clock, fail)
    try:
        await _retry_then_dead_letter_then_replay(client, keys, clock, fail, participant)
    finally:
        await participant.aclose()


async def _retry_then_dead_letter_then_replay(
    client: Redis, keys: BusKeys, clock: FakeClock, fail: list[bool], participant: Participant
) -> None:
    await participant.ensure_group()
    await start_saga(client, keys, confirm_slip("g1"))
    await participant.run_once()  # reads own pending (none)
    assert await participant.run_once() == 1  # first failure
    [(_member, due_ms)] = await client.zrange(keys.delayed(0, "hotel"), 0, -1, withscores=True)
    first_delay = POLICY.delay(1, 0.5)  # 1.5 s: half fixed, half jitter
    assert due_ms == int((clock.now + first_delay) * 1000)
    clock.now += first_delay - 0.01
    assert await participant.promote_due(clock.now) == 0, "not due yet"
    clock.now += 0.02
    assert await participant.promote_due(clock.now) == 1
    assert await participant.run_once() == 1  # second failure, attempt 1
    [(_, due_ms)] = await client.zrange(keys.delayed(0, "hotel"), 0, -1, withscores=True)
    assert due_ms == int((clock.now + POLICY.delay(2, 0.5)) * 1000)
    clock.now += 10
    assert await participant.run_once() == 1  # third failure spends the budget
    letters = await list_dead_letters(client, keys)
    assert [(d.saga_id, d.step, d.attempt) for d in letters] == [("g1", "hotel.confirm", 2)]
    assert "provider 503" in letters[0].error
    events = [r.event for r in await read_history(client, keys, "g1")]
    assert events.count(HistoryEvent.RETRY_SCHEDULED) == 2
    assert events[-1] == HistoryEvent.DEAD_LETTERED

    fail[0] = False
    assert await replay_dead_letter(client, keys, letters[0].entry_id) is not None
    assert await replay_dead_letter(client, keys, letters[0].entry_id) is None, "replayed once"
    assert await participant.run_once() == 1
    assert await client.xlen(keys.dead_letters(0)) == 0
    await eventually(lambda: _flights_has(client, keys, "g1"))


async def _flights_has(client: Redis, keys: BusKeys, saga_id: str) -> bool:
    return any(f["saga_id"] == saga_id for _, f in await client.xrange(keys.stream(0, "flights")))


async def test_cli_shows_timeline_dead_letters_and_lag(
    client7: Redis, redis7_url: str, keys: BusKeys, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clock, fail = FakeClock(), [True]
    participant = hotel(client7, namespace, clock, fail)
    await participant.ensure_group()
    await start_saga(client7, keys, confirm_slip("g1", "sess1"))
    for _ in range(3):
        clock.now += 100
        await participant.run_once()
        await participant.run_once()
    await participant.aclose()
    [letter] = await list_dead_letters(client7, keys)
    base = ["--redis-url", redis7_url, "--namespace", namespace, "--partitions", str(keys.partitions)]
    assert await cli.main([*base, "timeline", "g1"]) == 0
    assert await cli.main([*base, "session", "sess1"]) == 0
    assert await cli.main([*base, "dead-letters", "list"]) == 0
    assert await cli.main([*base, "dead-letters", "show", letter.entry_id]) == 0
    assert await cli.main([*base, "lag"]) == 0
    assert await cli.main([*base, "dead-letters", "replay", letter.entry_id]) == 0
    capsys.readouterr()
    assert await cli.main([*base, "entries", "hotel", "--session", "sess1"]) == 0
    shown = capsys.readouterr().out
    # The replayed entry, its plain fields and its binary slip decoded.
    assert "saga_id=g1 session_id=sess1 step=hotel.confirm" in shown
    assert '"sagaId": "g1"' in shown and '"participant": "flights"' in shown
    assert await cli.main([*base, "entries", "flights"]) == 1
    assert await cli.main([*base, "timeline", "missing"]) == 1
    figures = {f.participant: f for f in await group_figures(client7, keys)}
    assert figures["hotel"].lag == 1, "the replayed entry waits to be read"


async def test_lag_and_stuck_entries(client: Redis, keys: BusKeys, namespace: str) -> None:
    await client.xgroup_create(keys.stream(0, "hotel"), "hotel", id="0", mkstream=True)
    await client.sadd(keys.participants(), "hotel")
    for n in range(3):
        await start_saga(client, keys, confirm_slip(f"g{n}"))
    await client.xreadgroup("hotel", "c1", {keys.stream(0, "hotel"): ">"}, count=1)
    [figures] = await group_figures(client, keys, stuck_after_ms=0)
    assert (figures.length, figures.pending, figures.lag) == (3, 1, 2)
    assert [s.consumer for s in figures.stuck] == ["c1"]


async def test_trim_keeps_pending_and_unread_entries(client: Redis, keys: BusKeys) -> None:
    stream = keys.stream(0, "hotel")
    await client.xgroup_create(stream, "hotel", id="0", mkstream=True)
    ids = [await client.xadd(stream, {"n": str(n)}) for n in range(300)]
    read = await client.xreadgroup("hotel", "c1", {stream: ">"}, count=250)
    acked = [entry_id for entry_id, _ in read[0][1]][:200] if isinstance(read, list) else ids[:200]
    await client.xack(stream, "hotel", *acked[:100], *acked[101:200])  # ids[100] stays pending
    await trim_stream(client, stream)
    remaining = [entry_id for entry_id, _ in await client.xrange(stream)]
    assert ids[100] in remaining, "the pending entry survives"
    assert set(ids[200:]) <= set(remaining), "unacked and unread entries survive"
