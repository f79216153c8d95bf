"""Capacity under concurrency: N pre-reserves racing for the last k rooms or seats, exactly k win."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.providers import StartProvider, days_ahead, flight_id, new_reference

RACERS = 20
LAST = 3


async def _race(client: httpx.AsyncClient, bodies: list[dict[str, object]]) -> list[int]:
    responses = await asyncio.gather(*(client.post("/holds", json=b) for b in bodies))
    refused = [r.json()["error"] for r in responses if r.status_code == 409]
    assert set(refused) <= {"NO_AVAILABILITY"}
    return [r.status_code for r in responses]


async def _fill_flight(client: httpx.AsyncClient, fid: str, leave: int) -> None:
    seats = (await client.get(f"/flights/{fid}")).json()["seats"]
    to_take = seats - leave
    while to_take > 0:
        passengers = min(9, to_take)
        body = {"flightId": fid, "passengers": passengers, "reference": new_reference()}
        assert (await client.post("/holds", json=body)).status_code == 201
        to_take -= passengers


async def _flight_race(start_provider: StartProvider, **env: str) -> None:
    async with start_provider("flight", **env).client() as client:
        fid = flight_id("OPO", "PAR", days=20)
        await _fill_flight(client, fid, LAST)
        bodies = [{"flightId": fid, "passengers": 1, "reference": new_reference()} for _ in range(RACERS)]
        statuses = await _race(client, bodies)
        assert statuses.count(201) == LAST
        assert statuses.count(409) == RACERS - LAST
        assert (await client.get(f"/flights/{fid}")).json()["seatsAvailable"] == 0


async def test_only_the_last_seats_are_sold_under_concurrency(start_provider: StartProvider) -> None:
    await _flight_race(start_provider)


@pytest.mark.integration
async def test_only_the_last_seats_are_sold_on_postgresql(
    start_provider: StartProvider, postgres_env: dict[str, str]
) -> None:
    await _flight_race(start_provider, **postgres_env)


async def test_only_the_last_rooms_of_every_night_are_sold(start_provider: StartProvider) -> None:
    async with start_provider("hotel").client() as client:
        hotel = (await client.get("/hotels/HTL-BER-02")).json()
        rooms = hotel["roomsPerNight"]
        # Night 2 of the 3-night stay is the bottleneck: fill it with a one-night stay.
        for _ in range(rooms - LAST):
            body = {
                "hotelId": "HTL-BER-02",
                "checkIn": days_ahead(31),
                "checkOut": days_ahead(32),
                "guests": 1,
                "reference": new_reference(),
            }
            assert (await client.post("/holds", json=body)).status_code == 201
        stay = {"hotelId": "HTL-BER-02", "checkIn": days_ahead(30), "checkOut": days_ahead(33)}
        bodies = [{**stay, "guests": 2, "reference": new_reference()} for _ in range(RACERS)]
        statuses = await _race(client, bodies)
        assert statuses.count(201) == LAST
        offer = await client.get("/hotels/HTL-BER-02", params={**stay, "guests": 1})
        assert offer.json()["roomsAvailable"] == 0
        first_night = await client.get(
            "/hotels/HTL-BER-02", params={"checkIn": days_ahead(30), "checkOut": days_ahead(31)}
        )
        assert first_night.json()["roomsAvailable"] == rooms - LAST


async def test_cancel_releases_capacity_once(start_provider: StartProvider) -> None:
    async with start_provider("flight").client() as client:
        fid = flight_id("AMS", "ROM", days=5, slot=2)
        await _fill_flight(client, fid, 1)
        body = {"flightId": fid, "passengers": 1, "reference": new_reference()}
        hold = (await client.post("/holds", json=body)).json()
        assert (await client.post("/holds", json=body)).status_code == 409
        for _ in range(3):
            assert (await client.post(f"/holds/{hold['id']}/cancel")).status_code == 200
        assert (await client.get(f"/flights/{fid}")).json()["seatsAvailable"] == 1
