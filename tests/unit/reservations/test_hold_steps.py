"""Hold confirm and cancel steps: an ambiguous failure is settled by reading the hold, never a blind retry."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from travel.saga.v1 import saga_pb2 as pb

from bus.context import StepContext
from bus.errors import BusinessRefusal, TransientFailure
from services.kit.errors import DependencyUnavailable
from services.provider_client.client import AmbiguousFailure
from services.reservations.hold_steps import cancel_hold, confirm_hold, release_holds, release_step
from tests.fakes.provider_api import FakeProvider

LOST = AmbiguousFailure("the answer was lost")
DOWN = DependencyUnavailable("provider unreachable")


async def held(provider: FakeProvider, reference: str = "session-1") -> str:
    check_in = date(2031, 5, 1)
    body = {
        "hotelId": "HTL-LIS-01",
        "checkIn": check_in.isoformat(),
        "checkOut": (check_in + timedelta(days=2)).isoformat(),
        "guests": 2,
        "reference": reference,
    }
    created: dict[str, Any] = await provider.post("/holds", body, idempotency_key=uuid.uuid4().hex)
    return str(created["id"])


def status(provider: FakeProvider, hold_id: str) -> str:
    return str(provider.holds[hold_id]["status"])


async def test_a_confirm_whose_answer_was_lost_but_took_effect_succeeds_once() -> None:
    provider = FakeProvider()
    hold_id = await held(provider)
    provider.fail_next("POST", f"/holds/{hold_id}/confirm", LOST, after_effect=True)
    await confirm_hold(provider, hold_id, "saga-1:0:hotel.confirm", pb.REFUSAL_REASON_HOTEL_REJECTED)
    assert status(provider, hold_id) == "CONFIRMED"
    # Settled by reading the hold, not by sending the confirm again.
    assert provider.calls[-2:] == [("POST", f"/holds/{hold_id}/confirm"), ("GET", f"/holds/{hold_id}")]


async def test_a_confirm_lost_before_it_took_effect_is_retried_later() -> None:
    provider = FakeProvider()
    hold_id = await held(provider)
    provider.fail_next("POST", f"/holds/{hold_id}/confirm", LOST)
    with pytest.raises(TransientFailure):
        await confirm_hold(provider, hold_id, "k", pb.REFUSAL_REASON_HOTEL_REJECTED)
    assert status(provider, hold_id) == "HELD"


async def test_a_confirm_lost_on_a_hold_that_is_cancelled_is_refused_for_good() -> None:
    provider = FakeProvider()
    hold_id = await held(provider)
    await provider.post(f"/holds/{hold_id}/cancel", None, idempotency_key="cancel")
    provider.fail_next("POST", f"/holds/{hold_id}/confirm", LOST)
    with pytest.raises(BusinessRefusal, match="HOTEL_REJECTED"):
        await confirm_hold(provider, hold_id, "k", pb.REFUSAL_REASON_HOTEL_REJECTED)


async def test_an_unreadable_hold_after_a_lost_confirm_is_retried_later() -> None:
    provider = FakeProvider(attempts=2)
    hold_id = await held(provider)
    provider.fail_next("POST", f"/holds/{hold_id}/confirm", LOST, after_effect=True)
    for _ in range(2):
        provider.fail_next("GET", f"/holds/{hold_id}", DOWN)
    with pytest.raises(TransientFailure, match="cannot read hold"):
        await confirm_hold(provider, hold_id, "k", pb.REFUSAL_REASON_FLIGHT_REJECTED)


async def test_a_refused_or_unknown_hold_is_a_business_refusal_with_the_rejection() -> None:
    provider = FakeProvider()
    hold_id = await held(provider)
    provider.pass_hold_window()
    with pytest.raises(BusinessRefusal, match="FLIGHT_REJECTED: HOLD_EXPIRED") as refused:
        await confirm_hold(provider, hold_id, "k", pb.REFUSAL_REASON_FLIGHT_REJECTED)
    assert refused.value.reason == pb.REFUSAL_REASON_FLIGHT_REJECTED, "the reason travels typed"
    with pytest.raises(BusinessRefusal, match="unknown to the provider"):
        await confirm_hold(provider, "hold_missing", "k2", pb.REFUSAL_REASON_FLIGHT_REJECTED)


async def test_a_provider_down_through_every_attempt_is_transient() -> None:
    provider = FakeProvider(attempts=3)
    hold_id = await held(provider)
    for _ in range(3):
        provider.fail_next("POST", f"/holds/{hold_id}/confirm", DOWN)
    with pytest.raises(TransientFailure):
        await confirm_hold(provider, hold_id, "k", pb.REFUSAL_REASON_HOTEL_REJECTED)
    assert status(provider, hold_id) == "HELD"


async def test_a_cancel_whose_answer_was_lost_is_settled_by_the_hold() -> None:
    provider = FakeProvider()
    done, not_done = await held(provider), await held(provider)
    provider.fail_next("POST", f"/holds/{done}/cancel", LOST, after_effect=True)
    await cancel_hold(provider, done, "k1")
    assert status(provider, done) == "CANCELLED"
    provider.fail_next("POST", f"/holds/{not_done}/cancel", LOST)
    with pytest.raises(TransientFailure):
        await cancel_hold(provider, not_done, "k2")
    assert status(provider, not_done) == "HELD"


async def test_cancelling_a_hold_the_provider_does_not_know_is_done() -> None:
    await cancel_hold(FakeProvider(), "hold_missing", "k")


async def test_release_cancels_every_hold_of_the_session_but_those_kept() -> None:
    provider = FakeProvider()
    kept, stray, gone = [await held(provider, "session-1") for _ in range(3)]
    other = await held(provider, "session-2")
    await provider.post(f"/holds/{gone}/cancel", None, idempotency_key="earlier")
    assert await release_holds(provider, "session-1", {kept}, "saga-1:3:hotel.release") == 1
    assert [status(provider, h) for h in (kept, stray, gone, other)] == [
        "HELD",
        "CANCELLED",
        "CANCELLED",
        "HELD",
    ]


async def test_the_release_step_reads_the_holds_to_keep_from_its_arguments() -> None:
    provider = FakeProvider()
    kept, stray = await held(provider, "session-9"), await held(provider, "session-9")
    context = StepContext(
        saga_id="confirm-session-9",
        session_id="session-9",
        step="hotel.release",
        participant="hotel",
        saga_kind=pb.SAGA_KIND_CONFIRM,
        phase=pb.SLIP_PHASE_FORWARD,
        arguments={"keep": f"{kept},"},
        undo_log=[],
        idempotency_key="confirm-session-9:2:hotel.release",
        attempt=0,
        published_at=0.0,
        entry_id="1-0",
    )
    await release_step(provider)(context)
    assert (status(provider, kept), status(provider, stray)) == ("HELD", "CANCELLED")
