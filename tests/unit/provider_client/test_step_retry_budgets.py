"""One retry loop per step: called from a step, the provider client tries once; the step's policy retries."""

from __future__ import annotations

import httpx
import pytest

from bus.backoff import Retries
from bus.context import Step
from bus.settings import ConsumerSettings
from services.flights.saga_steps import flight_handlers
from services.hotel.saga_steps import hotel_handlers
from services.kit.errors import DependencyUnavailable
from services.provider_client.client import ProviderClient, RetryBudget, for_saga_steps
from tests.fakes.attempt_log import FakeAttemptLog
from tests.fakes.provider_api import FakeProvider

QUICK = RetryBudget(attempts=3, max_seconds=5.0, initial_wait=0.001, max_wait=0.002)


def busy_provider(requests: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(503, json={"error": "BUSY"})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_request_keeps_the_clients_own_retries() -> None:
    requests: list[httpx.Request] = []
    async with busy_provider(requests) as http:
        with pytest.raises(DependencyUnavailable):
            await ProviderClient(http, "http://provider", QUICK).get("/holds/h1")
    assert len(requests) == QUICK.attempts


async def test_a_saga_step_calls_the_provider_once_per_attempt() -> None:
    requests: list[httpx.Request] = []
    async with busy_provider(requests) as http:
        client = for_saga_steps(ProviderClient(http, "http://provider", QUICK))
        with pytest.raises(DependencyUnavailable):
            await client.post_unambiguous("/holds/h1/confirm", None, idempotency_key="k")
    assert len(requests) == 1


def test_every_booking_step_declares_its_retry_policy() -> None:
    attempts = FakeAttemptLog()
    handlers = {**hotel_handlers(FakeProvider(), attempts), **flight_handlers(FakeProvider(), attempts)}
    declared = {name: step.retries for name, step in handlers.items() if isinstance(step, Step)}
    assert declared.keys() == handlers.keys()
    confirms = {name for name in handlers if name.endswith(".confirm")}
    assert {name for name, retries in declared.items() if retries == Retries.BOUNDED} == confirms
    # Undoing must finish: its budget is the longer one.
    settings = ConsumerSettings()
    assert settings.policy(Retries.MUST_FINISH).max_attempts > settings.policy(Retries.BOUNDED).max_attempts
