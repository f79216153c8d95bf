"""A cancel addressed by the pre-reserve's Idempotency-Key works in either order."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.providers import StartProvider, days_ahead, flight_id, new_key, new_reference


async def test_a_cancel_before_the_pre_reserve_leaves_a_tombstone(flight: httpx.AsyncClient) -> None:
    await _tombstone_blocks_the_late_pre_reserve(flight)


async def test_the_race_between_cancel_and_pre_reserve_on_postgresql(
    start_provider: StartProvider, postgres_env: dict[str, str]
) -> None:
    async with start_provider("flight", **postgres_env).client() as client:
        await _tombstone_blocks_the_late_pre_reserve(client)
        for _ in range(10):
            key = new_key()
            body = {"flightId": flight_id(days=8), "passengers": 1, "reference": new_reference()}
            created, cancelled = await asyncio.gather(
                client.post("/holds", json=body, headers={"Idempotency-Key": key}),
                client.post(f"/holds/by-key/{key}/cancel"),
            )
            # Whatever the order, the key ends with no live hold.
            assert cancelled.status_code == 200
            if created.status_code == 201:
                hold = (await client.get(f"/holds/{created.json()['id']}")).json()
                assert hold["status"] == "CANCELLED"
            else:
                assert created.json()["error"] == "HOLD_CANCELLED"


async def _tombstone_blocks_the_late_pre_reserve(flight: httpx.AsyncClient) -> None:
    key, reference = new_key(), new_reference()
    cancelled = await flight.post(f"/holds/by-key/{key}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json() == {"idempotencyKey": key, "status": "CANCELLED", "tombstone": True, "hold": None}
    body = {"flightId": flight_id(days=7), "passengers": 1, "reference": reference}
    late = await flight.post("/holds", json=body, headers={"Idempotency-Key": key})
    assert late.status_code == 409
    assert late.json()["error"] == "HOLD_CANCELLED"
    assert (await flight.get("/holds", params={"reference": reference})).json()["total"] == 0
    seats = (await flight.get(f"/flights/{body['flightId']}")).json()
    assert seats["seatsAvailable"] == seats["seats"]
    again = await flight.post("/holds/cancel-by-key", json={"idempotencyKey": key})
    assert again.status_code == 200 and again.json()["tombstone"] is True


async def test_a_cancel_after_the_pre_reserve_cancels_that_hold(hotel: httpx.AsyncClient) -> None:
    key = new_key()
    body = {
        "hotelId": "HTL-MAD-03",
        "checkIn": days_ahead(9),
        "checkOut": days_ahead(10),
        "guests": 1,
        "reference": new_reference(),
    }
    hold = (await hotel.post("/holds", json=body, headers={"Idempotency-Key": key})).json()
    cancelled = await hotel.post("/holds/cancel-by-key", json={"idempotencyKey": key})
    assert cancelled.json()["tombstone"] is False
    assert cancelled.json()["hold"]["id"] == hold["id"]
    assert cancelled.json()["hold"]["status"] == "CANCELLED"
    refused = await hotel.post(f"/holds/{hold['id']}/confirm")
    assert refused.status_code == 409 and refused.json()["error"] == "HOLD_CANCELLED"
    # A retried pre-reserve with the same key replays its original answer; it does not hold again.
    replay = await hotel.post("/holds", json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 201 and replay.json()["id"] == hold["id"]
    assert (await hotel.get(f"/holds/{hold['id']}")).json()["status"] == "CANCELLED"
