"""A step's failure takes the path its kind declares, on real Redis: a bug is logged once, then dead."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from bus_harness import FAST, Recorder, all_handlers, confirm_slip, running
from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import Retries, RetryPolicy
from bus.context import Step, StepContext
from bus.dead_letters import DeadLetter, list_dead_letters
from bus.errors import BusinessRefusal, TransientFailure
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from tests.support.polling import eventually

# Transient failures get a long budget here, so only the bugs' own budget can explain a dead letter.
SETTINGS = replace(
    FAST,
    retry=RetryPolicy(max_attempts=8, base_delay_s=0.01, max_delay_s=0.05),
    compensation_retry=RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05),
    unexpected_retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05),
)


async def dead_letter_of(client: Redis, keys: BusKeys, saga_id: str) -> DeadLetter | None:
    return next((d for d in await list_dead_letters(client, keys) if d.saga_id == saga_id), None)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bus.consumer" and r.exc_info is not None]


async def test_a_broken_step_is_logged_once_and_dead_lettered_with_its_type_and_message(
    client7: Redis, keys: BusKeys, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bus.consumer")
    recorder = Recorder()

    def broken(context: StepContext) -> None:
        return 1 // 0  # type: ignore[return-value]

    handlers = all_handlers(recorder, flights_confirm=recorder.handler(broken))
    async with running(client7, namespace, handlers, settings=SETTINGS):
        await start_saga(client7, keys, confirm_slip("broken-1"))
        letter = await eventually(lambda: dead_letter_of(client7, keys, "broken-1"), what="the dead letter")
    assert recorder.calls["flights.confirm"] == 3
    assert (letter.step, letter.participant) == ("flights.confirm", "flights")
    assert (letter.failure_kind, letter.error_type) == ("unexpected", "ZeroDivisionError")
    assert letter.error_message == "integer division or modulo by zero"
    assert "ZeroDivisionError" in letter.error and "after 3 attempts" in letter.error
    logged = tracebacks(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is ZeroDivisionError
    events = [r.event for r in await read_history(client7, keys, "broken-1")]
    assert events.count(HistoryEvent.RETRY_SCHEDULED) == 2
    assert events[-1] == HistoryEvent.DEAD_LETTERED
    assert HistoryEvent.COMPENSATING not in events, "a bug is not a refusal: nothing is undone"


async def test_a_bug_after_transient_failures_still_gets_its_own_budget_and_one_traceback(
    client7: Redis, keys: BusKeys, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bus.consumer")
    recorder = Recorder()

    def flaky_then_broken(context: StepContext) -> None:
        if context.attempt < 2:
            raise TransientFailure("provider timeout")
        raise KeyError("hold_id")

    handlers = all_handlers(recorder, flights_confirm=recorder.handler(flaky_then_broken))
    async with running(client7, namespace, handlers, settings=SETTINGS):
        await start_saga(client7, keys, confirm_slip("broken-2"))
        letter = await eventually(lambda: dead_letter_of(client7, keys, "broken-2"), what="the dead letter")
    assert recorder.calls["flights.confirm"] == 2 + 3
    assert (letter.error_type, letter.error_message) == ("KeyError", "'hold_id'")
    assert len(tracebacks(caplog)) == 1


async def test_a_step_declaring_must_finish_retries_on_the_long_budget(
    client7: Redis, keys: BusKeys, namespace: str
) -> None:
    recorder = Recorder()

    def down(context: StepContext) -> None:
        raise TransientFailure("provider unreachable")

    # Going forward, a bare handler would get the short forward budget (2); this step declares more.
    must_finish = Step(recorder.handler(down), Retries.MUST_FINISH)
    bounded = replace(SETTINGS, retry=replace(SETTINGS.retry, max_attempts=2))
    handlers = all_handlers(recorder, flights_confirm=must_finish)
    async with running(client7, namespace, handlers, settings=bounded):
        await start_saga(client7, keys, confirm_slip("long-1"))
        letter = await eventually(lambda: dead_letter_of(client7, keys, "long-1"), what="the dead letter")
    assert recorder.calls["flights.confirm"] == SETTINGS.compensation_retry.max_attempts
    assert (letter.failure_kind, letter.error_type) == ("transient", "TransientFailure")
    assert letter.error_message == "provider unreachable"


async def test_a_refusal_reason_reaches_the_closing_step_typed(
    client7: Redis, keys: BusKeys, namespace: str
) -> None:
    recorder = Recorder()

    def sold_out(context: StepContext) -> None:
        raise BusinessRefusal("FLIGHT_REJECTED: SOLD_OUT: no seats", pb.REFUSAL_REASON_FLIGHT_REJECTED)

    handlers = all_handlers(recorder, flights_confirm=recorder.handler(sold_out))
    async with running(client7, namespace, handlers, settings=SETTINGS):
        await start_saga(client7, keys, confirm_slip("refused-1"))
        await eventually(lambda: recorder.calls["sessions.cancelled"] == 1, what="the closing step")
    closing = next(c for c in recorder.contexts if c.step == "sessions.cancelled")
    assert closing.refusal_reason == pb.REFUSAL_REASON_FLIGHT_REJECTED
    assert closing.failure_reason == "FLIGHT_REJECTED: SOLD_OUT: no seats"  # the text, for people
