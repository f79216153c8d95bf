"""Chaos over HTTP: seeded failure rates within tolerance, ambiguous failures that really commit."""

from __future__ import annotations

import httpx

from tests.support.providers import StartProvider, flight_id, new_key, new_reference

REQUESTS = 300
RATE = 0.3
TOLERANCE = 0.07  # about 3 standard deviations of a binomial(300, 0.3) share


async def _statuses(client: httpx.AsyncClient) -> list[int]:
    return [(await client.get("/hotels", params={"city": "ROM"})).status_code for _ in range(REQUESTS)]


async def test_a_seeded_failure_rate_is_met_and_replays(hotel: httpx.AsyncClient) -> None:
    settings = await hotel.put("/admin/chaos", json={"failureRate": RATE, "seed": 42})
    assert settings.json()["failureRate"] == RATE
    first = await _statuses(hotel)
    assert set(first) == {200, 503}
    assert abs(first.count(503) / REQUESTS - RATE) <= TOLERANCE
    await hotel.put("/admin/chaos", json={"seed": 42})
    assert await _statuses(hotel) == first


async def test_chaos_spares_admin_and_health(start_provider: StartProvider) -> None:
    async with start_provider("flight", PROVIDER_FAILURE_RATE="1").client() as client:
        failed = await client.get("/flights", params={"origin": "LIS"})
        assert failed.status_code == 503 and failed.json()["error"] == "UNAVAILABLE"
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/admin/chaos")).json()["failureRate"] == 1.0
        assert (await client.get("/admin/clock")).status_code == 200
        assert (await client.put("/admin/chaos", json={"failureRate": 0})).status_code == 200
        assert (await client.get("/flights", params={"origin": "LIS"})).status_code == 200


async def test_an_ambiguous_failure_commits_the_work(flight: httpx.AsyncClient) -> None:
    await flight.put("/admin/chaos", json={"ambiguousRate": 1.0, "seed": 3})
    reference, fid = new_reference(), flight_id("LON", "NYC", days=30)
    keys = [new_key() for _ in range(10)]
    outcomes = set()
    for key in keys:
        body = {"flightId": fid, "passengers": 1, "reference": reference}
        try:
            response = await flight.post("/holds", json=body, headers={"Idempotency-Key": key})
            assert response.status_code == 500
            outcomes.add("500")
        except httpx.RemoteProtocolError:
            outcomes.add("dropped")
    assert outcomes == {"500", "dropped"}
    await flight.put("/admin/chaos", json={"ambiguousRate": 0})
    held = (await flight.get("/holds", params={"reference": reference})).json()
    assert held["total"] == len(keys)
    replay = await flight.post(
        "/holds",
        json={"flightId": fid, "passengers": 1, "reference": reference},
        headers={"Idempotency-Key": keys[0]},
    )
    assert replay.status_code == 201
    assert replay.json()["id"] in {h["id"] for h in held["items"]}
    assert (await flight.get(f"/flights/{fid}")).json()["seatsAvailable"] == (
        (await flight.get(f"/flights/{fid}")).json()["seats"] - len(keys)
    )


async def test_chaos_settings_are_validated(hotel: httpx.AsyncClient) -> None:
    for body, field in [
        ({"failureRate": 1.5}, "failureRate"),
        ({"latencyMs": -1}, "latencyMs"),
        ({"failureRate": "high"}, "failureRate"),
        ({"bogus": 1}, "bogus"),
    ]:
        refused = await hotel.put("/admin/chaos", json=body)
        assert refused.status_code == 400 and refused.json()["field"] == field
    assert (await hotel.get("/admin/chaos")).json()["failureRate"] == 0.0
