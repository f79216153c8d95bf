"""Idempotency-Key: a replay answers the original response; the same key with another body is a 422."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.providers import StartProvider, flight_id, new_key, new_reference


def _seats(reference: str, passengers: int = 2) -> dict[str, Any]:
    return {"flightId": flight_id("BCN", "LON", days=14), "passengers": passengers, "reference": reference}


async def test_a_replay_returns_the_original_response(flight: httpx.AsyncClient) -> None:
    key, body = new_key(), _seats(new_reference())
    first = await flight.post("/holds", json=body, headers={"Idempotency-Key": key})
    second = await flight.post("/holds", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert (await flight.get("/holds", params={"reference": body["reference"]})).json()["total"] == 1


async def _one_hold_per_key(client: httpx.AsyncClient) -> None:
    key, body = new_key(), _seats(new_reference())
    responses = await asyncio.gather(
        *(client.post("/holds", json=body, headers={"Idempotency-Key": key}) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await client.get("/holds", params={"reference": body["reference"]})).json()["total"] == 1


async def test_concurrent_requests_with_one_key_make_one_hold(flight: httpx.AsyncClient) -> None:
    await _one_hold_per_key(flight)


async def test_concurrent_requests_with_one_key_make_one_hold_on_postgresql(
    start_provider: StartProvider, postgres_env: dict[str, str]
) -> None:
    async with start_provider("flight", **postgres_env).client() as client:
        await _one_hold_per_key(client)


async def test_the_same_key_with_another_body_is_refused(flight: httpx.AsyncClient) -> None:
    key, reference = new_key(), new_reference()
    assert (
        await flight.post("/holds", json=_seats(reference), headers={"Idempotency-Key": key})
    ).status_code == 201
    other = await flight.post("/holds", json=_seats(reference, 3), headers={"Idempotency-Key": key})
    assert other.status_code == 422
    assert other.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert (await flight.get("/holds", params={"reference": reference})).json()["total"] == 1


async def test_confirm_and_cancel_replay_their_first_answer(flight: httpx.AsyncClient) -> None:
    hold = (await flight.post("/holds", json=_seats(new_reference()))).json()
    confirm_key, cancel_key = new_key(), new_key()
    confirmed = await flight.post(f"/holds/{hold['id']}/confirm", headers={"Idempotency-Key": confirm_key})
    cancelled = await flight.post(f"/holds/{hold['id']}/cancel", headers={"Idempotency-Key": cancel_key})
    assert cancelled.json()["status"] == "CANCELLED"
    replayed = await flight.post(f"/holds/{hold['id']}/confirm", headers={"Idempotency-Key": confirm_key})
    assert replayed.status_code == 200 and replayed.content == confirmed.content
    assert replayed.json()["status"] == "CONFIRMED"  # the original answer, not today's state
    elsewhere = await flight.post(f"/holds/{hold['id']}/cancel", headers={"Idempotency-Key": confirm_key})
    assert elsewhere.status_code == 422
