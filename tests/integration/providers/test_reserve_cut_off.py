"""A reserve cut off between the provider's hold and its attach leaves no live hold once the session
is confirmed: its attempt stays recorded in Redis, and the confirm step releases the stray."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb
from travel.sessions.v1 import sessions_pb2

from bus.context import StepContext
from bus.keys import BusKeys
from services.hotel.reservations import HotelReservations
from services.provider_client.client import ProviderClient, provider_session
from services.reservations.attempts_redis import RedisAttemptLog, attempt_index_key, attempts_key
from services.sagas import definitions as sagas
from services.sagas.hotel_steps import hotel_handlers
from services.sessions import domain
from tests.fakes.session_arbiter import FakeSessionArbiter
from tests.support.polling import eventually
from tests.support.providers import StartProvider
from tools.invariants import SessionRecords, unattached_live_holds


class CutOffArbiter(FakeSessionArbiter):
    """The real arbiter, but while `cut_off` is set an attach never answers: the reserve is stuck
    after its hold, where a killed process would have stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.cut_off = False

    async def attach(self, session_id: str, customer_id: str, item: sessions_pb2.Item) -> Any:
        if self.cut_off:
            await asyncio.Event().wait()
        return await super().attach(session_id, customer_id, item)


@pytest.fixture
async def hotel_api(start_provider: StartProvider) -> AsyncIterator[tuple[ProviderClient, httpx.AsyncClient]]:
    provider = start_provider("hotel")
    async with provider_session(30) as http, provider.client() as direct:
        yield ProviderClient(http, provider.url, name="hotel"), direct


async def holds_of(direct: httpx.AsyncClient, session_id: str) -> list[dict[str, Any]]:
    answer = await direct.get("/holds", params={"reference": session_id, "pageSize": 100})
    return list(answer.json()["items"])


def step_context(slip: pb.RoutingSlip) -> StepContext:
    step = slip.itinerary[0]
    return StepContext(
        saga_id=slip.saga_id,
        session_id=slip.session_id,
        step=step.name,
        participant=step.participant,
        saga_kind=slip.kind,
        phase=slip.phase,
        arguments=dict(step.arguments),
        undo_log=[],
        idempotency_key=f"{slip.saga_id}:0:{step.name}",
        attempt=0,
        published_at=0.0,
        entry_id="1-0",
    )


async def test_a_reserve_cut_off_after_its_hold_leaves_no_live_hold_once_confirmed(
    hotel_api: tuple[ProviderClient, httpx.AsyncClient], redis: Redis, unique_id: str
) -> None:
    provider, direct = hotel_api
    attempts = RedisAttemptLog(redis, BusKeys(f"cut-off-{unique_id}"))
    arbiter = CutOffArbiter()
    today = datetime.now(UTC).date()
    reservations = HotelReservations(provider, arbiter, attempts, lambda: today)
    customer = uuid.uuid4().hex
    session_id = await arbiter.open_session(customer)
    check_in, check_out = (today + timedelta(days=30)).isoformat(), (today + timedelta(days=32)).isoformat()

    booked = await reservations.reserve(customer, session_id, "HTL-LIS-01", check_in, check_out, 2)
    # Attached: its attempt stays recorded, named by the hold's key, until the confirm step.
    [attached] = await attempts.unsettled(session_id, "hotel")

    arbiter.cut_off = True
    cut = asyncio.create_task(
        reservations.reserve(customer, session_id, "HTL-LIS-02", check_in, check_out, 1)
    )

    async def held_twice() -> bool:
        return len(await holds_of(direct, session_id)) == 2

    await eventually(held_twice, timeout=10, what="the cut-off reserve's hold at the provider")
    cut.cancel()  # the request ends here, as it would with its process killed: nothing runs after
    with pytest.raises(asyncio.CancelledError):
        await cut
    [left] = [a for a in await attempts.unsettled(session_id, "hotel") if a != attached]
    assert left.session_id == session_id

    stored = await arbiter.store.get(session_id)
    assert stored is not None
    paying = domain.begin_checkout(stored, datetime.now(UTC))
    confirming = domain.payment_succeeded(paying, "pay-1", datetime.now(UTC))
    assert confirming is not None
    slip = sagas.confirmation_slip(confirming, datetime.now(UTC))
    assert [step.name for step in slip.itinerary] == ["hotel.confirm", "sessions.complete"]

    await hotel_handlers(provider, attempts)["hotel.confirm"](step_context(slip))

    holds = {hold["id"]: hold["status"] for hold in await holds_of(direct, session_id)}
    [kept] = [item.hotel.hold_id for item in booked.items]
    assert holds.pop(kept) == "CONFIRMED"
    assert list(holds.values()) == ["CANCELLED"]
    session = {"items": [{"hotel": {"holdId": kept}}]}
    records = SessionRecords(session, await holds_of(direct, session_id), [])
    assert unattached_live_holds(records) == []
    # The attached attempt is accounted for by its confirmed hold; the cut-off one stays for the
    # reconciler, which sweeps it once the session is settled.
    assert await attempts.unsettled(session_id, "hotel") == [left]


async def test_attempts_are_recorded_settled_and_found_by_age_in_their_partitions(
    redis: Redis, unique_id: str
) -> None:
    keys = BusKeys(f"attempts-{unique_id}", partitions=4)
    now = [1_000.0]
    attempts = RedisAttemptLog(redis, keys, clock=lambda: now[0])
    sessions = [str(uuid.uuid4()) for _ in range(3)]
    first = await attempts.record(sessions[0], "hotel")
    now[0] += 10
    second = await attempts.record(sessions[0], "flights")
    other = await attempts.record(sessions[1], "hotel")
    assert [a.field for a in await attempts.unsettled(sessions[0], "hotel")] == [first.field]
    assert await attempts.unsettled(sessions[2], "hotel") == []
    # The index keeps a session's earliest attempt, in the session's own partition.
    index = attempt_index_key(keys, keys.partition_of(sessions[0]))
    assert await redis.zscore(index, sessions[0]) == 1_000_000
    assert await attempts.started_before(1_005_000) == [first]
    assert sorted(a.field for a in await attempts.started_before(2_000_000)) == sorted(
        a.field for a in (first, second, other)
    )

    # A confirm step drops the attempt it accounts for and sees the participant's others.
    assert await attempts.account_for(sessions[1], "hotel", {other.attempt_id}) == []
    assert await attempts.account_for(sessions[0], "flights", {"not-recorded"}) == [second]
    await attempts.settle(first)
    assert await redis.zscore(index, sessions[0]) == 1_010_000
    await attempts.clear([second])
    assert await attempts.started_before(2_000_000) == []
    assert await redis.exists(attempts_key(keys, sessions[0]), index) == 0
