"""The saga publisher's contract, held by the in-memory fake and the Redis Streams publisher."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count

import pytest
from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.entries import read_slip
from bus.errors import InvalidSlip
from bus.history import session_saga_ids
from bus.keys import BusKeys
from bus.ports import SagaPublisher
from bus.replies import parse_entries
from bus.slip import StepDeclaration, build_slip, complete_current
from bus.stream_publisher import StreamSagaPublisher
from tests.fakes.saga_publisher import FakeSagaPublisher

NOW = datetime(2031, 1, 1, tzinfo=UTC)
STEPS = [
    StepDeclaration("hotel.confirm", "hotel", pb.STEP_KIND_COMPENSATABLE, compensation="hotel.cancel"),
    StepDeclaration("flights.confirm", "flights", pb.STEP_KIND_PIVOT),
    StepDeclaration("sessions.complete", "sessions", pb.STEP_KIND_RETRIABLE),
]


@dataclass
class Backend:
    publisher: SagaPublisher
    # A participant's stream, oldest first: (entry id, saga id, step).
    stream: Callable[[str], Awaitable[list[tuple[str, str, str]]]]
    # A session's saga ids in start order.
    sagas: Callable[[str], Awaitable[list[str]]]


@pytest.fixture(params=["fake", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "fake":
        fake = FakeSagaPublisher()

        async def fake_stream(participant: str) -> list[tuple[str, str, str]]:
            return [(e.entry_id, e.slip.saga_id, e.slip.itinerary[0].name) for e in fake.stream(participant)]

        async def fake_sagas(session_id: str) -> list[str]:
            return fake.session_sagas(session_id)

        yield Backend(fake, fake_stream, fake_sagas)
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    keys = BusKeys(f"contract{uuid.uuid4().hex[:12]}", partitions=1)  # one stream: start order is entry order
    ticks = count(1_900_000_000)  # one second apart, so start order is unambiguous

    async def stream(participant: str) -> list[tuple[str, str, str]]:
        entries = parse_entries(await redis.xrange(keys.stream(0, participant)))
        return [(eid, f["saga_id"], read_slip(f).itinerary[0].name) for eid, f in entries if f]

    async def sagas(session_id: str) -> list[str]:
        return await session_saga_ids(redis, keys, session_id)

    yield Backend(StreamSagaPublisher(redis, keys, clock=lambda: float(next(ticks))), stream, sagas)
    found = [key async for key in redis.scan_iter(match=f"{keys.namespace}:*", count=1000)]
    if found:
        await redis.delete(*found)
    await redis.aclose()


def slip(saga_id: str = "", session_id: str = "") -> pb.RoutingSlip:
    return build_slip(
        saga_id=saga_id or f"confirm-{uuid.uuid4().hex[:8]}",
        session_id=session_id or str(uuid.uuid4()),
        kind=pb.SAGA_KIND_CONFIRM,
        steps=STEPS,
        now=NOW,
    )


def entry_order(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


async def test_a_slip_lands_on_its_first_participants_stream(backend: Backend) -> None:
    started = slip()
    entry_id = await backend.publisher.publish(started)
    assert entry_id is not None
    assert await backend.stream("hotel") == [(entry_id, started.saga_id, "hotel.confirm")]
    assert await backend.stream("flights") == []


async def test_the_same_saga_step_is_published_once(backend: Backend) -> None:
    started = slip()
    assert await backend.publisher.publish(started) is not None
    assert await backend.publisher.publish(started) is None
    assert len(await backend.stream("hotel")) == 1


async def test_the_next_step_of_a_saga_is_a_new_publication(backend: Backend) -> None:
    started = slip()
    await backend.publisher.publish(started)
    advanced = complete_current(started, {"hold_id": "h1"}, NOW)
    assert await backend.publisher.publish(advanced) is not None
    assert [saga for _, saga, _ in await backend.stream("flights")] == [started.saga_id]


async def test_entries_keep_publication_order_and_sessions_know_their_sagas(backend: Backend) -> None:
    session_id = str(uuid.uuid4())
    slips = [slip(f"saga-{n}-{uuid.uuid4().hex[:6]}", session_id) for n in range(4)]
    ids = [await backend.publisher.publish(s) for s in slips]
    assert all(ids) and ids == sorted(ids, key=lambda e: entry_order(str(e)))
    assert [saga for _, saga, _ in await backend.stream("hotel")] == [s.saga_id for s in slips]
    assert await backend.sagas(session_id) == [s.saga_id for s in slips]


async def test_a_slip_with_no_step_left_is_refused(backend: Backend) -> None:
    finished = slip()
    for _ in STEPS:
        finished = complete_current(finished, {}, NOW)
    with pytest.raises(InvalidSlip):
        await backend.publisher.publish(finished)
