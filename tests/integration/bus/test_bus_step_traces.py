"""A saga's steps join the trace of the request that started it, through the outbox, on real Redis;
a step that raises is logged once with its traceback and ids."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pytest
from bus_harness import FAST, confirm_slip
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from bus.consumer import Participant
from bus.context import Handler, StepContext
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.outbox import OutboxRelay, add, metadata
from bus.publisher import start_saga
from kit import log_context
from kit.database import Database
from kit.db import open_database
from kit.trace_context import current_ids
from tests.support.polling import eventually

STEPS = {
    "hotel": ("hotel.confirm", "hotel.cancel"),
    "flights": ("flights.confirm",),
    "sessions": ("sessions.complete", "sessions.cancelled"),
}


@pytest.fixture
def spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    """A recording tracer of the test's own (the process-wide provider is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await open_database(f"sqlite:///{tmp_path / 'outbox.sqlite3'}", None, "outbox", metadata)
    yield opened
    await opened.close()


class Seen:
    """Handlers that note the trace and log ids each step ran under, and may fail once."""

    def __init__(self, fail_once: str = "") -> None:
        self.trace_ids: dict[str, str] = {}
        self.sagas: dict[str, str] = {}
        self._fail_once = fail_once

    def handler(self) -> Handler:
        async def handle(context: StepContext) -> Mapping[str, str] | None:
            self.trace_ids[context.step] = current_ids()[0]
            self.sagas[context.step] = log_context.current_fields().get("saga_id", "")
            if context.step == self._fail_once and context.attempt == 0:
                raise RuntimeError("provider answered nonsense")
            return None

        return handle


async def run_saga(
    client: Redis, namespace: str, tracer: trace.Tracer, seen: Seen, start: asyncio.Future[None]
) -> None:
    participants = [
        Participant(
            client, namespace=namespace, participant=name, consumer="c1",
            handlers={step: seen.handler() for step in steps}, settings=FAST, tracer=tracer,
        )
        for name, steps in STEPS.items()
    ]  # fmt: skip
    tasks = [asyncio.create_task(p.run()) for p in participants]
    try:
        await start
    finally:
        for p in participants:
            p.stop()
        await asyncio.gather(*tasks)


async def completed(client: Redis, keys: BusKeys, saga_id: str) -> bool:
    return any(r.event == HistoryEvent.SAGA_COMPLETED for r in await read_history(client, keys, saga_id))


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


async def test_steps_of_a_saga_started_through_the_outbox_are_spans_of_the_starting_request(
    client7: Redis,
    keys: BusKeys,
    namespace: str,
    db: Database,
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    seen = Seen()
    with tracer.start_as_current_span("POST /v1/webhooks/payments") as request:
        # As the arbiter does: the slip is written in the transaction, on the database's thread.
        await db.transaction(lambda conn: add(conn, confirm_slip("traced-1", "s-traced")))
    request_context = request.get_span_context()
    # The relay runs outside any request: the trace travels in the row's slip.
    assert await OutboxRelay(db, client7, keys).relay_once() == 1

    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait_then_stop() -> None:
        await eventually(lambda: completed(client7, keys, "traced-1"), what="the saga to complete")
        done.set_result(None)

    waiter = asyncio.create_task(wait_then_stop())
    await run_saga(client7, namespace, tracer, seen, done)
    await waiter

    found = by_name(exporter)
    trace_hex = format(request_context.trace_id, "032x")
    for step in ("hotel.confirm", "flights.confirm", "sessions.complete"):
        span = found[step]
        assert span.context is not None and span.parent is not None
        assert span.context.trace_id == request_context.trace_id, step
        assert span.parent.span_id == request_context.span_id, step
        assert span.kind == trace.SpanKind.CONSUMER
        assert span.attributes is not None and span.attributes["travel.saga.id"] == "traced-1"
        assert span.attributes["travel.saga.step"] == step
        assert span.attributes["messaging.system"] == "redis"
        assert span.attributes["messaging.operation.type"] == "process"
        assert span.attributes["messaging.destination.name"] == keys.stream(0, step.split(".")[0])
        assert span.attributes["messaging.consumer.group.name"] == keys.group(step.split(".")[0])
        assert str(span.attributes["messaging.message.id"]).count("-") == 1
        participant = step.split(".")[0]
        timed = REGISTRY.get_sample_value(
            "travel_bus_step_duration_seconds_count", {"participant": participant, "step": step}
        )
        assert timed is not None and timed >= 1, step
        assert seen.trace_ids[step] == trace_hex
        assert seen.sagas[step] == "traced-1"


async def test_a_step_that_raises_is_logged_once_with_its_traceback_then_retried(
    client7: Redis,
    keys: BusKeys,
    namespace: str,
    spans: tuple[trace.Tracer, InMemorySpanExporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracer, exporter = spans
    seen = Seen(fail_once="flights.confirm")
    caplog.set_level(logging.INFO, logger="bus.consumer")
    with tracer.start_as_current_span("POST /v1/sessions/s/cancel"):
        await start_saga(client7, keys, confirm_slip("traced-2", "s-traced-2"))

    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait_then_stop() -> None:
        await eventually(lambda: completed(client7, keys, "traced-2"), what="the saga to complete")
        done.set_result(None)

    waiter = asyncio.create_task(wait_then_stop())
    await run_saga(client7, namespace, tracer, seen, done)
    await waiter

    raised = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(raised) == 1, [r.getMessage() for r in raised]
    assert raised[0].exc_info is not None and "flights.confirm" in raised[0].getMessage()
    completions = [r.getMessage() for r in caplog.records if r.getMessage().endswith("completed")]
    assert completions.count("step flights.confirm completed") == 1
    failed = [s for s in exporter.get_finished_spans() if s.name == "flights.confirm"]
    assert len(failed) == 2  # the failed attempt and the retry, both in the saga's trace
    assert failed[0].status.status_code == trace.StatusCode.ERROR
    assert any(event.name == "exception" for event in failed[0].events)
    assert len({s.context.trace_id for s in failed if s.context is not None}) == 1
