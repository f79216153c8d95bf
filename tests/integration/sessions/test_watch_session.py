"""WatchSession against a real sessions server and Redis: a booking followed to its end, resumed, capped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from travel.sessions.v1 import sessions_pb2 as pb

from kit.open_streams import StreamCaps
from tests.support.followed_bookings import Bookings, followed_bookings

DEADLINE_SECONDS = 30.0
CAPS = StreamCaps(per_customer=1, total=2, retry_after_seconds=4)


@pytest.fixture
async def bookings(tmp_path: Path, redis_url: str, unique_id: str) -> AsyncIterator[Bookings]:
    async with followed_bookings(tmp_path, redis_url, f"watch{unique_id}", watch_caps=CAPS) as running:
        yield running


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def until_end(call: grpc.aio.UnaryStreamCall) -> list[pb.WatchSessionResponse]:  # type: ignore[type-arg]
    responses: list[pb.WatchSessionResponse] = []
    async with asyncio.timeout(DEADLINE_SECONDS):
        while (response := await call.read()) is not grpc.aio.EOF:
            assert isinstance(response, pb.WatchSessionResponse)
            responses.append(response)
    return responses


async def test_a_booking_is_followed_to_its_end_and_a_resume_sends_only_what_came_after(
    bookings: Bookings,
) -> None:
    session_id, token = await bookings.checked_out()
    call = bookings.stub.WatchSession(pb.WatchSessionRequest(id=session_id), metadata=auth(token))
    first = await call.read()
    assert isinstance(first, pb.WatchSessionResponse)
    assert first.session.state == pb.STATE_PAYMENT_PENDING and first.events
    await bookings.pay(session_id)
    rest = await until_end(call)
    responses = [first, *rest]
    assert responses[-1].end_state == pb.STATE_CONFIRMED, "the stream ends on its terminal response"
    assert [r for r in responses if r.end_state] == responses[-1:]
    sequences = [r.sequence for r in responses]
    assert sequences == sorted(sequences) and sequences[-1] > first.sequence
    sent = [event for response in responses for event in response.events]
    final = await bookings.timeline(session_id, token)
    assert sorted(e.SerializeToString() for e in sent) == sorted(e.SerializeToString() for e in final.events)
    assert [r.session.state for r in responses if r.HasField("session")][-1] == pb.STATE_CONFIRMED

    resumed = bookings.stub.WatchSession(
        pb.WatchSessionRequest(id=session_id, after_sequence=sequences[-1]), metadata=auth(token)
    )
    again = await until_end(resumed)
    assert [(r.end_state, list(r.events), r.HasField("session")) for r in again] == [
        (pb.STATE_CONFIRMED, [], False)
    ], "nothing came after the last sequence but the end"

    from_start = await until_end(
        bookings.stub.WatchSession(pb.WatchSessionRequest(id=session_id), metadata=auth(token))
    )
    assert [e for r in from_start for e in r.events] == list(final.events), "a new watch sends the timeline"


async def test_only_the_owner_may_watch_and_bad_ids_are_refused(bookings: Bookings) -> None:
    session_id, _ = await bookings.checked_out()
    stranger = bookings.stub.WatchSession(
        pb.WatchSessionRequest(id=session_id), metadata=auth(bookings.token())
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stranger.read()
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    anonymous = bookings.stub.WatchSession(pb.WatchSessionRequest(id=session_id))
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await anonymous.read()
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    bad = bookings.stub.WatchSession(pb.WatchSessionRequest(id="not-a-uuid"), metadata=auth(bookings.token()))
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await bad.read()
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def retry_delay(error: grpc.aio.AioRpcError) -> int:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.seconds
    raise AssertionError("no RetryInfo")


async def test_watches_are_capped_per_customer_and_in_total(bookings: Bookings) -> None:
    ana, ana_token = await bookings.checked_out()
    bo, bo_token = await bookings.checked_out()
    cy, cy_token = await bookings.checked_out()
    held = [bookings.stub.WatchSession(pb.WatchSessionRequest(id=ana), metadata=auth(ana_token))]
    assert isinstance(await held[0].read(), pb.WatchSessionResponse)

    second = bookings.stub.WatchSession(pb.WatchSessionRequest(id=ana), metadata=auth(ana_token))
    with pytest.raises(grpc.aio.AioRpcError) as per_customer:
        await second.read()
    assert per_customer.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "per customer" in (per_customer.value.details() or "")
    assert retry_delay(per_customer.value) == CAPS.retry_after_seconds

    held.append(bookings.stub.WatchSession(pb.WatchSessionRequest(id=bo), metadata=auth(bo_token)))
    assert isinstance(await held[1].read(), pb.WatchSessionResponse)
    over = bookings.stub.WatchSession(pb.WatchSessionRequest(id=cy), metadata=auth(cy_token))
    with pytest.raises(grpc.aio.AioRpcError) as total:
        await over.read()
    assert total.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_delay(total.value) == CAPS.retry_after_seconds

    held[0].cancel()  # a watch that ends gives its slot back
    async with asyncio.timeout(DEADLINE_SECONDS):
        while True:
            again = bookings.stub.WatchSession(pb.WatchSessionRequest(id=cy), metadata=auth(cy_token))
            try:
                assert isinstance(await again.read(), pb.WatchSessionResponse)
                break
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                await asyncio.sleep(0.05)
    again.cancel()
    held[1].cancel()
