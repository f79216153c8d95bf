"""Kill test: SIGKILL a consumer process mid-batch; a new one finishes every saga exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bus_harness import confirm_slip, pending_total, saga_ids_in
from redis.asyncio import Redis

from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from tests.support.polling import eventually

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("kill_worker.py")
SAGAS = 60
PARTICIPANTS = ("hotel", "flights", "sessions")


def start_worker(url: str, namespace: str, consumer: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}
    process = subprocess.Popen(
        [sys.executable, str(WORKER), url, namespace, consumer], env=env, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    return process


async def completed_sagas(client: Redis, keys: BusKeys) -> int:
    done = 0
    for n in range(SAGAS):
        events = [r.event for r in await read_history(client, keys, f"k{n}")]
        done += events.count(HistoryEvent.SAGA_COMPLETED)
    return done


async def test_killed_consumer_loses_nothing_and_repeats_nothing(
    client7: Redis, redis7_url: str, keys: BusKeys, namespace: str
) -> None:
    first = start_worker(redis7_url, namespace, "first")
    try:
        for n in range(SAGAS):
            await start_saga(client7, keys, confirm_slip(f"k{n}"))

        async def some_progress() -> bool:
            return int(await client7.scard(f"{namespace}:effects:applied")) >= SAGAS

        await eventually(some_progress, what="the first consumer to be busy")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert await completed_sagas(client7, keys) < SAGAS, "the kill must land mid-run"

    second = start_worker(redis7_url, namespace, "second")
    try:

        async def all_done() -> bool:
            return await completed_sagas(client7, keys) >= SAGAS

        await eventually(all_done, timeout=30, what="every saga to complete")

        async def nothing_pending() -> bool:
            return await pending_total(client7, keys, PARTICIPANTS) == 0

        await eventually(nothing_pending, what="no pending entry")
    finally:
        second.terminate()
        second.wait()

    assert await completed_sagas(client7, keys) == SAGAS, "each saga completes exactly once"
    applied = await client7.smembers(f"{namespace}:effects:applied")
    assert len(applied) == SAGAS * 3
    for name in PARTICIPANTS[1:]:
        per_saga = await saga_ids_in(client7, keys.stream(0, name))
        assert set(per_saga.values()) == {1}, f"a slip was forwarded twice to {name}"
    assert await client7.xlen(keys.dead_letters(0)) == 0
