"""Client mistakes get a 400 naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.providers import days_ahead, flight_id, new_key

REFERENCE = "bad-input-reference"


def _stay(**changes: Any) -> dict[str, Any]:
    body = {
        "hotelId": "HTL-OPO-01",
        "checkIn": days_ahead(5),
        "checkOut": days_ahead(7),
        "guests": 2,
        "reference": REFERENCE,
    }
    return {k: v for k, v in (body | changes).items() if v is not None}


HOTEL_CASES = [
    (_stay(checkOut=days_ahead(5)), "checkOut"),
    (_stay(checkOut=days_ahead(3)), "checkOut"),
    (_stay(checkIn="tomorrow"), "checkIn"),
    (_stay(checkIn=days_ahead(-2)), "checkIn"),
    (_stay(guests=0), "guests"),
    (_stay(guests=10), "guests"),
    (_stay(guests="2"), "guests"),
    (_stay(hotelId=None), "hotelId"),
    (_stay(reference=""), "reference"),
]


@pytest.mark.parametrize(("body", "field"), HOTEL_CASES)
async def test_bad_hotel_holds(hotel: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    refused = await hotel.post("/holds", json=body, headers={"Idempotency-Key": new_key()})
    assert refused.status_code == 400
    assert refused.json()["error"] == "INVALID_ARGUMENT" and refused.json()["field"] == field
    assert (await hotel.get("/holds")).json()["total"] == 0


async def test_malformed_bodies(hotel: httpx.AsyncClient, flight: httpx.AsyncClient) -> None:
    for client, content in [(hotel, b"{not json"), (hotel, b"[1, 2]"), (flight, b"")]:
        refused = await client.post("/holds", content=content, headers={"Content-Type": "application/json"})
        assert refused.status_code == 400 and refused.json()["field"] == "body"
    too_many = {"flightId": flight_id(), "passengers": 12, "reference": REFERENCE}
    refused = await flight.post("/holds", json=too_many)
    assert refused.status_code == 400 and refused.json()["field"] == "passengers"
    assert (await flight.get("/holds")).json()["total"] == 0
    bad_key = await flight.post(
        "/holds", json=too_many | {"passengers": 1}, headers={"Idempotency-Key": "a b"}
    )
    assert bad_key.status_code == 400 and bad_key.json()["field"] == "Idempotency-Key"
    assert (await flight.get(f"/flights/{flight_id()}")).json()["seatsAvailable"] == (
        (await flight.get(f"/flights/{flight_id()}")).json()["seats"]
    )


def _trip(segments: Any, **changes: Any) -> dict[str, Any]:
    return {"segments": segments, "passengers": 1, "reference": REFERENCE} | changes


FLIGHT_CASES = [
    (_trip("FL-LIS-MAD"), "segments"),
    (_trip([]), "segments"),
    (_trip([{"flightId": flight_id()}] * 5), "segments"),
    (_trip([{"flightId": flight_id()}, {"flightId": flight_id()}]), "segments"),
    (_trip([{"flightId": flight_id()}], flightId=flight_id()), "segments"),
    (_trip([{"flightId": flight_id()}, "FL-MAD-LIS"]), "segments[1]"),
    (_trip([{"flightId": flight_id()}, {"flightId": ""}]), "segments[1].flightId"),
    (_trip([{"flightId": flight_id()}], passengers=0), "passengers"),
]


@pytest.mark.parametrize(("body", "field"), FLIGHT_CASES)
async def test_bad_multi_segment_holds(flight: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    refused = await flight.post("/holds", json=body, headers={"Idempotency-Key": new_key()})
    assert refused.status_code == 400
    assert refused.json()["error"] == "INVALID_ARGUMENT" and refused.json()["field"] == field
    assert (await flight.get("/holds")).json()["total"] == 0


async def test_bad_search_parameters(hotel: httpx.AsyncClient, flight: httpx.AsyncClient) -> None:
    for client, path, params, field in [
        (hotel, "/hotels", {"city": "XYZ"}, "city"),
        (hotel, "/hotels", {"checkIn": days_ahead(3), "checkOut": days_ahead(1)}, "checkOut"),
        (hotel, "/hotels", {"pageSize": "0"}, "pageSize"),
        (flight, "/flights", {"date": "2020-13-01"}, "date"),
        (flight, "/flights", {"origin": "LIS", "offset": "-1"}, "offset"),
        (flight, "/holds", {"status": "LOST"}, "status"),
    ]:
        refused = await client.get(path, params=params)
        assert refused.status_code == 400, (path, params)
        assert refused.json()["field"] == field


PAYMENT_CASES = [
    ({"amount": -5}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": 10.5}, "amount"),
    ({"currency": "XXX"}, "currency"),
    ({"currency": None}, "currency"),
    ({"webhookUrl": "ftp://nowhere"}, "webhookUrl"),
    ({"reference": None}, "reference"),
]


@pytest.mark.parametrize(("changes", "field"), PAYMENT_CASES)
async def test_bad_payments(payment: httpx.AsyncClient, changes: dict[str, Any], field: str) -> None:
    base = {
        "amount": 1000,
        "currency": "EUR",
        "reference": REFERENCE,
        "webhookUrl": "http://127.0.0.1:9/hook",
    }
    body = {k: v for k, v in (base | changes).items() if v is not None}
    refused = await payment.post("/payments", json=body)
    assert refused.status_code == 400 and refused.json()["field"] == field
    assert (await payment.get("/payments")).json()["total"] == 0


async def test_bad_pay_outcome(payment: httpx.AsyncClient) -> None:
    body = {
        "amount": 1000,
        "currency": "EUR",
        "reference": REFERENCE,
        "webhookUrl": "http://127.0.0.1:9/hook",
    }
    created = (await payment.post("/payments", json=body)).json()
    refused = await payment.post(f"/payments/{created['id']}/pay", json={"outcome": "maybe"})
    assert refused.status_code == 400 and refused.json()["field"] == "outcome"
    assert (await payment.get(f"/payments/{created['id']}")).json()["status"] == "PENDING"
