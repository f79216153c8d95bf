"""Hold lifecycle over HTTP: confirm within the window, refusal past it (moved clock), cancel, get, list."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from simulated_world.providers.clock import FixedClock
from tests.support.providers import StartProvider, days_ahead, flight_id, new_reference


def _stay(reference: str, hotel_id: str = "HTL-LIS-01") -> dict[str, object]:
    return {
        "hotelId": hotel_id,
        "checkIn": days_ahead(12),
        "checkOut": days_ahead(15),
        "guests": 3,
        "reference": reference,
    }


async def test_a_hotel_hold_reads_back_with_its_price(hotel: httpx.AsyncClient) -> None:
    reference = new_reference()
    created = await hotel.post("/holds", json=_stay(reference))
    assert created.status_code == 201
    hold = created.json()
    offer = (await hotel.get("/hotels/HTL-LIS-01")).json()
    assert hold["status"] == "HELD"
    assert hold["reference"] == reference
    assert hold["rooms"] == 2 and hold["nights"] == 3
    assert hold["amount"] == offer["nightlyPrice"]["amount"] * 2 * 3
    assert hold["currency"] == "EUR"
    assert (await hotel.get(f"/holds/{hold['id']}")).json() == hold
    listed = (await hotel.get("/holds", params={"reference": reference})).json()
    assert [h["id"] for h in listed["items"]] == [hold["id"]]


async def test_confirm_within_the_window_then_cancel(flight: httpx.AsyncClient) -> None:
    body = {"flightId": flight_id(days=3), "passengers": 2, "reference": new_reference()}
    hold = (await flight.post("/holds", json=body)).json()
    assert hold["amount"] == (await flight.get(f"/flights/{body['flightId']}")).json()["price"]["amount"] * 2
    confirmed = await flight.post(f"/holds/{hold['id']}/confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "CONFIRMED" and confirmed.json()["confirmedAt"]
    assert (await flight.post(f"/holds/{hold['id']}/confirm")).json()["status"] == "CONFIRMED"
    cancelled = await flight.post(f"/holds/{hold['id']}/cancel")
    assert cancelled.json()["status"] == "CANCELLED" and cancelled.json()["cancelledAt"]


async def test_confirm_past_the_window_is_a_business_refusal(hotel: httpx.AsyncClient) -> None:
    hold = (await hotel.post("/holds", json=_stay(new_reference()))).json()
    moved = await hotel.put("/admin/clock", json={"offsetSeconds": 901})
    assert moved.json()["offsetSeconds"] == 901
    refused = await hotel.post(f"/holds/{hold['id']}/confirm")
    assert refused.status_code == 409
    assert refused.json()["error"] == "HOLD_EXPIRED"
    assert (await hotel.get(f"/holds/{hold['id']}")).json()["status"] == "HELD"
    assert (await hotel.post(f"/holds/{hold['id']}/cancel")).json()["status"] == "CANCELLED"


async def test_a_cancelled_hold_stays_cancelled(hotel: httpx.AsyncClient) -> None:
    hold = (await hotel.post("/holds", json=_stay(new_reference()))).json()
    assert (await hotel.post(f"/holds/{hold['id']}/cancel")).status_code == 200
    refused = await hotel.post(f"/holds/{hold['id']}/confirm")
    assert refused.status_code == 409
    assert refused.json()["error"] == "HOLD_CANCELLED"
    again = await hotel.post(f"/holds/{hold['id']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "CANCELLED"


async def test_unknown_ids_are_404(hotel: httpx.AsyncClient, flight: httpx.AsyncClient) -> None:
    for client, path in [
        (hotel, "/holds/hold_nope"),
        (hotel, "/hotels/HTL-XXX-01"),
        (flight, "/flights/FL-LIS-MAD-19990101-1"),
        (flight, "/flights/garbage"),
    ]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"].endswith("NOT_FOUND")
    for action in ("confirm", "cancel"):
        assert (await hotel.post(f"/holds/hold_nope/{action}")).status_code == 404
    body = {"flightId": "FL-LIS-LIS-20300101-1", "passengers": 1, "reference": new_reference()}
    assert (await flight.post("/holds", json=body)).status_code == 404


async def test_search_lists_the_catalog_paged(hotel: httpx.AsyncClient, flight: httpx.AsyncClient) -> None:
    hotels = (await hotel.get("/hotels", params={"pageSize": 7})).json()
    assert len(hotels["items"]) == 7 and hotels["total"] == 40
    following = (await hotel.get("/hotels", params={"pageToken": hotels["nextPageToken"]})).json()
    assert following["items"][0]["id"] not in {h["id"] for h in hotels["items"]}
    lisbon = (await hotel.get("/hotels", params={"city": "LIS"})).json()
    assert {h["city"] for h in lisbon["items"]} == {"LIS"}
    day = days_ahead(40)
    found = (await flight.get("/flights", params={"origin": "LIS", "destination": "NYC", "date": day})).json()
    assert found["total"] == 2
    assert all(f["date"] == day and f["seatsAvailable"] == f["seats"] for f in found["items"])
    everything = (await flight.get("/flights", params={"pageSize": 3, "offset": 5})).json()
    assert everything["total"] == 90 * 2 * 120 and len(everything["items"]) == 3


async def test_an_injected_clock_drives_the_window(start_provider: StartProvider) -> None:
    clock = FixedClock(datetime.now(UTC))
    async with start_provider("flight", clock=clock, PROVIDER_HOLD_WINDOW_SECONDS="60").client() as client:
        body = {"flightId": flight_id(days=2), "passengers": 1, "reference": new_reference()}
        first = (await client.post("/holds", json=body)).json()
        second = (await client.post("/holds", json=body)).json()
        assert first["expiresAt"] == second["expiresAt"]  # the clock stands still
        clock.advance(59)
        assert (await client.post(f"/holds/{first['id']}/confirm")).status_code == 200
        clock.advance(1)
        refused = await client.post(f"/holds/{second['id']}/confirm")
        assert refused.status_code == 409 and refused.json()["error"] == "HOLD_EXPIRED"
