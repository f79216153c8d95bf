"""`python -m tools.trace_log_cost`: the CPU trace context and log lines add to a saga step and
to a served gRPC call, with no exporter and with one.

No Redis, no network. A step runs the consumer's step path (context, handler, commit built) on a
no-op handler; a call runs the gRPC servers' served-call interceptor (no caller check) around a
no-op method. Each prints CPU microseconds per step or call; the first line of each is the path
without that code.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.consumer import Participant
from bus.context import StepContext
from bus.entries import Delivery
from bus.partition_consumer import PartitionConsumer
from bus.slip import RETRIABLE, StepDeclaration, build_slip, current_step, idempotency_key
from kit.log_format import LogSettings, log_handler
from kit.served_calls import ServedCallInterceptor

STEPS = int(os.environ.get("TRACE_LOG_COST_STEPS", "20000"))
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def _noop(context: StepContext) -> Mapping[str, str] | None:
    return None


def _delivery(traceparent: str) -> Delivery:
    slip = build_slip(
        saga_id="confirm-s1", session_id="s1", kind=pb.SAGA_KIND_CONFIRM,
        steps=[StepDeclaration("bench.step", "bench", RETRIABLE)], now=datetime.now(UTC),
        traceparent=traceparent,
    )  # fmt: skip
    return Delivery(entry_id="1-0", slip=slip, sent_at=time.time())


async def _untraced_step(participant: PartitionConsumer, delivery: Delivery) -> None:
    """The step path as it was before trace context and log lines: context, handler, commit."""
    slip = delivery.slip
    step = current_step(slip)
    assert step is not None
    context = StepContext(
        saga_id=slip.saga_id, session_id=slip.session_id, step=step.name, participant=step.participant,
        saga_kind=slip.kind, phase=slip.phase, arguments=step.arguments, undo_log=tuple(slip.log),
        idempotency_key=idempotency_key(slip), attempt=slip.attempt, published_at=delivery.sent_at,
        entry_id=delivery.entry_id, failure_reason=slip.failure_reason,
    )  # fmt: skip
    undo = await _noop(context)
    participant._commits.completed(delivery, undo, time.time())


async def _per_step_us(consumer: PartitionConsumer, delivery: Delivery, *, untraced: bool = False) -> float:
    for _ in range(200):  # warm caches
        await consumer._run_step(delivery)
    started = time.process_time()
    for _ in range(STEPS):
        if untraced:
            await _untraced_step(consumer, delivery)
        else:
            await consumer._run_step(delivery)
    return (time.process_time() - started) / STEPS * 1e6


def _log_to(name: str, settings: LogSettings | None) -> None:
    """The logger `name` at INFO into a buffer in the given format, or at WARNING (lines off)."""
    logger = logging.getLogger(name)
    logger.propagate = False
    for old in list(logger.handlers):
        logger.removeHandler(old)
    if settings is None:
        logger.setLevel(logging.WARNING)
        return
    logger.setLevel(logging.INFO)
    logger.addHandler(log_handler(settings, "bench", io.StringIO()))


class _Served:
    """What the interceptor reads of a served call: its metadata (as grpc.aio's context gives it)."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


class _Request:
    session_id = "s1"


async def _method(request: object, context: object) -> str:
    return "ok"


async def _per_call_us(metadata: tuple[tuple[str, str], ...], *, bare: bool = False) -> float:
    interceptor, served, request, name = (
        ServedCallInterceptor(),
        _Served(metadata),
        _Request(),
        "/b.v1.B/Call",
    )
    started = time.process_time()
    for _ in range(STEPS):
        if bare:
            await _method(request, served)
        else:
            await interceptor.intercept(_method, request, served, name)
    return (time.process_time() - started) / STEPS * 1e6


async def calls() -> None:
    print(f"CPU per served gRPC call, {STEPS} calls each, no-op method")
    _log_to("kit.served_calls", None)
    base = await _per_call_us((), bare=True)
    ids = (("x-request-id", "3b4a0aae18804d09bf46a1ba6e45091c"),)
    cases = [
        ("call without the interceptor", base),
        ("no exporter, request id, INFO off", await _per_call_us(ids)),
        (
            "no exporter, request id, traceparent, INFO off",
            await _per_call_us((*ids, ("traceparent", TRACEPARENT))),
        ),
    ]
    _log_to("kit.served_calls", LogSettings("text"))
    cases.append(
        ("no exporter, traceparent, a text line", await _per_call_us((*ids, ("traceparent", TRACEPARENT))))
    )
    _log_to("kit.served_calls", LogSettings("json"))
    cases.append(
        ("no exporter, traceparent, a JSON line", await _per_call_us((*ids, ("traceparent", TRACEPARENT))))
    )
    _log_to("kit.served_calls", None)
    for name, cost in cases:
        print(f"{name:48s}: {cost:7.1f} us  (+{cost - base:5.1f})")


async def main() -> None:
    redis = Redis(decode_responses=True)  # never connected: the step path makes no Redis call
    handlers = {"bench.step": _noop}
    plain = Participant(
        redis, namespace="bench", participant="bench", consumer="b1", handlers=handlers, partitions=1
    ).consumers[0]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    traced = Participant(
        redis, namespace="bench", participant="bench", consumer="b1", handlers=handlers,
        tracer=provider.get_tracer("bench"), partitions=1,
    ).consumers[0]  # fmt: skip
    untraced_slip, traced_slip = _delivery(""), _delivery(TRACEPARENT)
    print(f"CPU per saga step, {STEPS} steps each, no-op handler")
    _log_to("bus.consumer", None)
    base = await _per_step_us(plain, untraced_slip, untraced=True)
    cases = [
        ("step path without trace and log code", base),
        ("no exporter, no traceparent, INFO off", await _per_step_us(plain, untraced_slip)),
        ("no exporter, traceparent, INFO off", await _per_step_us(plain, traced_slip)),
    ]
    _log_to("bus.consumer", LogSettings("text"))
    cases.append(("no exporter, traceparent, a text line", await _per_step_us(plain, traced_slip)))
    _log_to("bus.consumer", LogSettings("json"))
    cases.append(("no exporter, traceparent, a JSON line", await _per_step_us(plain, traced_slip)))
    _log_to("bus.consumer", None)
    cases.append(("SDK span per step (in-memory), INFO off", await _per_step_us(traced, traced_slip)))
    for name, cost in cases:
        print(f"{name:48s}: {cost:7.1f} us  (+{cost - base:5.1f})")
    provider.shutdown()
    await calls()


if __name__ == "__main__":
    asyncio.run(main())
