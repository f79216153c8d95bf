"""The provider API's contract, held by the in-memory fake and the HTTP client against the real providers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kit.errors import InvalidArgument, NotFound
from kit.settings import Env
from services.provider_client.client import ProviderClient, ProviderRefusal, provider_path, provider_session
from services.provider_client.ports import ProviderApi
from simulated_world.providers.app import build_app
from simulated_world.providers.clock import FixedClock
from simulated_world.providers.config import ProviderConfig
from tests.fakes.provider_api import FakeProvider
from tests.support.providers import ServerThread

HOTEL_ID = "HTL-LIS-01"  # in the seeded catalog, and the fake's one hotel
WINDOW_SECONDS = 900
NOWHERE = "http://127.0.0.1:9/webhooks/payments"


@dataclass
class Backend:
    api: ProviderApi
    pass_hold_window: Callable[[], None]
    today: date


async def _backend(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> AsyncIterator[Backend]:
    now = datetime.now(UTC)
    if request.param == "fake":
        fake = FakeProvider(flights={f["id"]: f for f in _fake_flights(now.date())})
        yield Backend(fake, fake.pass_hold_window, now.date())
        return
    clock = FixedClock(now)
    env = {"PROVIDER_KIND": kind, "TRAVEL_DATA_DIR": str(tmp_path / kind)}
    server = ServerThread(build_app(ProviderConfig.from_env(Env(env)), clock=clock))
    server.start()
    try:
        async with provider_session(timeout_seconds=10) as http:
            client = ProviderClient(http, f"http://127.0.0.1:{server.port}", name=kind)
            yield Backend(client, lambda: clock.advance(WINDOW_SECONDS + 1), now.date())
    finally:
        server.stop()


@pytest.fixture(params=["fake", "http"])
async def hotel(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async for backend in _backend(request, tmp_path, "hotel"):
        yield backend


@pytest.fixture(params=["fake", "http"])
async def flights(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async for backend in _backend(request, tmp_path, "flight"):
        yield backend


@pytest.fixture(params=["fake", "http"])
async def payments(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async for backend in _backend(request, tmp_path, "payment"):
        yield backend


OUT_DAYS, BACK_DAYS = 20, 24


def _fake_flights(today: date) -> list[dict[str, Any]]:
    """A round trip for the fake, shaped as the seeded catalog's flights (and few seats)."""
    flights = []
    for origin, destination, days in (("LIS", "MAD", OUT_DAYS), ("MAD", "LIS", BACK_DAYS)):
        day = today + timedelta(days=days)
        flights.append(
            {
                "id": f"FL-{origin}-{destination}-{day:%Y%m%d}-1",
                "origin": origin,
                "destination": destination,
                "date": day.isoformat(),
                "departureTime": f"{day.isoformat()}T09:00",
                "arrivalTime": f"{day.isoformat()}T10:30",
                "price": {"amount": 9_000 + days, "currency": "EUR"},
                "seats": 12,
            }
        )
    return flights


def key() -> str:
    return f"key-{uuid.uuid4().hex}"


def stay(backend: Backend, guests: int = 2, nights: int = 2, reference: str = "") -> dict[str, Any]:
    check_in = backend.today + timedelta(days=20)
    return {
        "hotelId": HOTEL_ID,
        "checkIn": check_in.isoformat(),
        "checkOut": (check_in + timedelta(days=nights)).isoformat(),
        "guests": guests,
        "reference": reference or f"session-{uuid.uuid4().hex[:12]}",
    }


async def hold(backend: Backend, **kwargs: Any) -> dict[str, Any]:
    created: dict[str, Any] = await backend.api.post("/holds", stay(backend, **kwargs), idempotency_key=key())
    return created


async def test_a_hold_is_priced_per_room_and_night_and_reads_back(hotel: Backend) -> None:
    nightly = (await hotel.api.get(provider_path("hotels", HOTEL_ID)))["nightlyPrice"]
    created = await hold(hotel, guests=3, nights=2)
    assert created["status"] == "HELD"
    assert (created["amount"], created["currency"]) == (nightly["amount"] * 2 * 2, nightly["currency"])
    read = await hotel.api.get(provider_path("holds", created["id"]))
    assert (read["id"], read["status"], read["reference"]) == (created["id"], "HELD", created["reference"])


async def test_a_repeated_key_replays_the_first_answer_and_holds_once(hotel: Backend) -> None:
    body, same = stay(hotel), key()
    first = await hotel.api.post("/holds", body, idempotency_key=same)
    again = await hotel.api.post("/holds", body, idempotency_key=same)
    assert again["id"] == first["id"]
    page = await hotel.api.get("/holds", {"reference": body["reference"]})
    assert [h["id"] for h in page["items"]] == [first["id"]]
    with pytest.raises(ProviderRefusal) as refused:
        await hotel.api.post("/holds", body | {"guests": 1}, idempotency_key=same)
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"


async def test_confirm_and_cancel_move_a_hold_once_and_repeat_harmlessly(hotel: Backend) -> None:
    created = await hold(hotel)
    confirm, cancel = (
        provider_path("holds", created["id"], "confirm"),
        provider_path("holds", created["id"], "cancel"),
    )
    assert (await hotel.api.post_unambiguous(confirm, None, idempotency_key=key()))["status"] == "CONFIRMED"
    assert (await hotel.api.post_unambiguous(confirm, None, idempotency_key=key()))["status"] == "CONFIRMED"
    assert (await hotel.api.post(cancel, None, idempotency_key=key()))["status"] == "CANCELLED"
    assert (await hotel.api.post(cancel, None, idempotency_key=key()))["status"] == "CANCELLED"
    with pytest.raises(ProviderRefusal) as refused:
        await hotel.api.post_unambiguous(confirm, None, idempotency_key=key())
    assert refused.value.code == "HOLD_CANCELLED"


async def test_a_hold_past_its_window_cannot_be_confirmed(hotel: Backend) -> None:
    created = await hold(hotel)
    hotel.pass_hold_window()
    with pytest.raises(ProviderRefusal) as refused:
        await hotel.api.post_unambiguous(
            provider_path("holds", created["id"], "confirm"), None, idempotency_key=key()
        )
    assert refused.value.code == "HOLD_EXPIRED"
    assert (await hotel.api.get(provider_path("holds", created["id"])))["status"] == "HELD"


async def test_unknown_holds_and_hotels_are_not_found(hotel: Backend) -> None:
    missing = f"hold_{uuid.uuid4().hex[:24]}"
    with pytest.raises(NotFound):
        await hotel.api.get(provider_path("holds", missing))
    with pytest.raises(NotFound):
        await hotel.api.post_unambiguous(
            provider_path("holds", missing, "confirm"), None, idempotency_key=key()
        )
    with pytest.raises(NotFound):
        await hotel.api.post("/holds", stay(hotel) | {"hotelId": "HTL-LIS-99"}, idempotency_key=key())


async def test_capacity_is_taken_by_holds_and_given_back_by_a_cancel(hotel: Backend) -> None:
    rooms = int((await hotel.api.get(provider_path("hotels", HOTEL_ID)))["roomsPerNight"])
    made = [await hold(hotel, guests=2) for _ in range(rooms)]
    with pytest.raises(ProviderRefusal) as refused:
        await hold(hotel, guests=1)
    assert refused.value.code == "NO_AVAILABILITY"
    await hotel.api.release_hold(made[0]["id"], key())
    assert (await hotel.api.get(provider_path("holds", made[0]["id"])))["status"] == "CANCELLED"
    assert (await hold(hotel, guests=1))["status"] == "HELD"


async def test_holds_of_a_reference_list_in_pages(hotel: Backend) -> None:
    reference = f"session-{uuid.uuid4().hex[:12]}"
    made = {(await hold(hotel, reference=reference))["id"] for _ in range(3)}
    await hold(hotel)  # another reference
    first = await hotel.api.get("/holds", {"reference": reference, "pageSize": 2, "offset": 0})
    assert len(first["items"]) == 2 and first["nextPageToken"]
    rest = await hotel.api.get("/holds", {"reference": reference, "pageSize": 2, "offset": 2})
    assert len(rest["items"]) == 1 and not rest["nextPageToken"]
    assert {h["id"] for h in first["items"] + rest["items"]} == made


async def test_releasing_an_unknown_hold_is_quiet(hotel: Backend) -> None:
    await hotel.api.release_hold(f"hold_{uuid.uuid4().hex[:24]}", key())


async def round_trip(backend: Backend) -> tuple[dict[str, Any], dict[str, Any]]:
    """A LIS-MAD flight and one back four days later, as the provider's search finds them."""
    legs = []
    for origin, destination, days in (("LIS", "MAD", OUT_DAYS), ("MAD", "LIS", BACK_DAYS)):
        day = (backend.today + timedelta(days=days)).isoformat()
        page = await backend.api.get("/flights", {"origin": origin, "destination": destination, "date": day})
        legs.append(page["items"][0])
    return legs[0], legs[1]


def trip_body(out: dict[str, Any], back: dict[str, Any], passengers: int, reference: str) -> dict[str, Any]:
    segments = [{"flightId": out["id"]}, {"flightId": back["id"]}]
    return {"segments": segments, "passengers": passengers, "reference": reference}


async def seats_left(backend: Backend, flight: dict[str, Any]) -> int:
    return int((await backend.api.get(provider_path("flights", flight["id"])))["seatsAvailable"])


async def test_a_round_trip_is_one_hold_priced_per_segment_by_the_provider(flights: Backend) -> None:
    out, back = await round_trip(flights)
    reference = f"session-{uuid.uuid4().hex[:12]}"
    created = await flights.api.post("/holds", trip_body(out, back, 2, reference), idempotency_key=key())
    assert created["status"] == "HELD"
    segments = [(s["flightId"], s["passengers"], s["amount"], s["currency"]) for s in created["segments"]]
    assert segments == [
        (out["id"], 2, out["price"]["amount"] * 2, out["price"]["currency"]),
        (back["id"], 2, back["price"]["amount"] * 2, back["price"]["currency"]),
    ]
    assert created["amount"] == sum(s["amount"] for s in created["segments"])
    read = await flights.api.get(provider_path("holds", created["id"]))
    assert (read["status"], read["segments"]) == ("HELD", created["segments"])
    page = await flights.api.get("/holds", {"reference": reference})
    assert [(h["id"], h["segments"]) for h in page["items"]] == [(created["id"], created["segments"])]


async def test_a_single_flight_hold_lists_its_one_segment(flights: Backend) -> None:
    out, _ = await round_trip(flights)
    body = {"flightId": out["id"], "passengers": 1, "reference": "session-single"}
    created = await flights.api.post("/holds", body, idempotency_key=key())
    assert [(s["flightId"], s["amount"]) for s in created["segments"]] == [(out["id"], created["amount"])]


async def test_a_repeated_key_replays_the_same_round_trip_hold(flights: Backend) -> None:
    out, back = await round_trip(flights)
    reference, same = f"session-{uuid.uuid4().hex[:12]}", key()
    first = await flights.api.post("/holds", trip_body(out, back, 1, reference), idempotency_key=same)
    again = await flights.api.post("/holds", trip_body(out, back, 1, reference), idempotency_key=same)
    assert again == first
    page = await flights.api.get("/holds", {"reference": reference})
    assert [h["id"] for h in page["items"]] == [first["id"]]
    with pytest.raises(ProviderRefusal) as refused:
        await flights.api.post("/holds", trip_body(out, back, 2, reference), idempotency_key=same)
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"


async def test_a_round_trip_is_held_whole_or_not_at_all(flights: Backend) -> None:
    out, back = await round_trip(flights)
    outbound_seats = await seats_left(flights, out)
    blockers, left = [], await seats_left(flights, back)
    while left:
        body = {"flightId": back["id"], "passengers": min(9, left), "reference": "session-blocking"}
        blockers.append(await flights.api.post("/holds", body, idempotency_key=key()))
        left -= body["passengers"]
    reference, same = f"session-{uuid.uuid4().hex[:12]}", key()
    with pytest.raises(ProviderRefusal) as refused:
        await flights.api.post("/holds", trip_body(out, back, 1, reference), idempotency_key=same)
    assert refused.value.code == "NO_AVAILABILITY"
    assert (await flights.api.get("/holds", {"reference": reference}))["items"] == []
    assert await seats_left(flights, out) == outbound_seats
    # A refusal leaves nothing behind, its key included: once a seat is free the same request holds.
    await flights.api.release_hold(blockers[0]["id"], key())
    held = await flights.api.post("/holds", trip_body(out, back, 1, reference), idempotency_key=same)
    assert held["status"] == "HELD"
    assert await seats_left(flights, out) == outbound_seats - 1


async def test_confirm_and_cancel_move_both_legs_in_one_call(flights: Backend) -> None:
    out, back = await round_trip(flights)
    before = (await seats_left(flights, out), await seats_left(flights, back))
    created = await flights.api.post("/holds", trip_body(out, back, 3, "session-trip"), idempotency_key=key())
    assert (await seats_left(flights, out), await seats_left(flights, back)) == (before[0] - 3, before[1] - 3)
    confirm = provider_path("holds", created["id"], "confirm")
    assert (await flights.api.post_unambiguous(confirm, None, idempotency_key=key()))["status"] == "CONFIRMED"
    assert (await flights.api.post_unambiguous(confirm, None, idempotency_key=key()))["status"] == "CONFIRMED"
    cancel = provider_path("holds", created["id"], "cancel")
    assert (await flights.api.post(cancel, None, idempotency_key=key()))["status"] == "CANCELLED"
    assert (await flights.api.post(cancel, None, idempotency_key=key()))["status"] == "CANCELLED"
    # Capacity of both legs is given back, exactly once.
    assert (await seats_left(flights, out), await seats_left(flights, back)) == before


async def test_a_round_trip_with_an_unknown_flight_holds_nothing(flights: Backend) -> None:
    out, back = await round_trip(flights)
    missing = back | {"id": "FL-MAD-LIS-20000101-1"}
    reference = f"session-{uuid.uuid4().hex[:12]}"
    with pytest.raises(NotFound):
        await flights.api.post("/holds", trip_body(out, missing, 1, reference), idempotency_key=key())
    assert (await flights.api.get("/holds", {"reference": reference}))["items"] == []
    with pytest.raises(InvalidArgument):
        await flights.api.post("/holds", trip_body(out, out, 1, reference), idempotency_key=key())


async def payment(backend: Backend, amount: int = 31_000) -> dict[str, Any]:
    body = {"amount": amount, "currency": "EUR", "reference": str(uuid.uuid4()), "webhookUrl": NOWHERE}
    created: dict[str, Any] = await backend.api.post("/payments", body, idempotency_key=key())
    assert (created["status"], created["amount"], created["reference"]) == (
        "PENDING",
        amount,
        body["reference"],
    )
    assert created["checkoutUrl"]
    return created


async def test_a_payment_is_created_pending_and_reads_back(payments: Backend) -> None:
    created = await payment(payments)
    read = await payments.api.get(provider_path("payments", created["id"]))
    assert {k: read[k] for k in ("id", "status", "amount", "currency", "reference")} == {
        k: created[k] for k in ("id", "status", "amount", "currency", "reference")
    }


async def test_only_a_captured_payment_is_refunded_and_a_refund_repeats_harmlessly(payments: Backend) -> None:
    created = await payment(payments)
    refund = provider_path("payments", created["id"], "refund")
    with pytest.raises(ProviderRefusal) as refused:
        await payments.api.post_unambiguous(refund, None, idempotency_key=key())
    assert refused.value.code == "PAYMENT_NOT_REFUNDABLE"
    pay = provider_path("payments", created["id"], "pay")
    assert (await payments.api.post(pay, {"outcome": "succeed"}, idempotency_key=key()))[
        "status"
    ] == "SUCCEEDED"
    with pytest.raises(ProviderRefusal) as twice:
        await payments.api.post(pay, {"outcome": "decline"}, idempotency_key=key())
    assert twice.value.code == "PAYMENT_NOT_PENDING"
    assert (await payments.api.post_unambiguous(refund, None, idempotency_key=key()))["status"] == "REFUNDED"
    assert (await payments.api.post_unambiguous(refund, None, idempotency_key=key()))["status"] == "REFUNDED"


async def test_unknown_payments_are_not_found_and_bad_amounts_refused(payments: Backend) -> None:
    missing = f"pay_{uuid.uuid4().hex[:24]}"
    with pytest.raises(NotFound):
        await payments.api.get(provider_path("payments", missing))
    with pytest.raises(NotFound):
        await payments.api.post_unambiguous(
            provider_path("payments", missing, "refund"), None, idempotency_key=key()
        )
    body = {"amount": 0, "currency": "EUR", "reference": "r", "webhookUrl": NOWHERE}
    with pytest.raises(InvalidArgument):
        await payments.api.post("/payments", body, idempotency_key=key())
