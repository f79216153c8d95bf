"""One retry loop per step: called from a step, the provider client tries once; the step's policy retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bus.backoff import Retries
from bus.context import Step
from bus.settings import ConsumerSettings
from kit.errors import DependencyUnavailable
from services.provider_client.client import ProviderClient, RetryBudget, for_saga_steps, provider_session
from services.sagas.flights_steps import flight_handlers
from services.sagas.hotel_steps import hotel_handlers
from tests.fakes.attempt_log import FakeAttemptLog
from tests.fakes.provider_api import FakeProvider
from tests.support.gateway import serve_gateway

QUICK = RetryBudget(attempts=3, max_seconds=5.0, initial_wait=0.001, max_wait=0.002)


@asynccontextmanager
async def busy_provider(requests: list[str]) -> AsyncIterator[ProviderClient]:
    """A provider on loopback that answers every request 503, and a client of it."""

    async def answer(request: Request) -> JSONResponse:
        requests.append(f"{request.method} {request.url.path}")
        return JSONResponse({"error": "BUSY"}, status_code=503)

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
    async with serve_gateway(app) as url, provider_session(timeout_seconds=5) as http:
        yield ProviderClient(http, url, QUICK)


async def test_a_request_keeps_the_clients_own_retries() -> None:
    requests: list[str] = []
    async with busy_provider(requests) as provider:
        with pytest.raises(DependencyUnavailable):
            await provider.get("/holds/h1")
    assert requests == ["GET /holds/h1"] * QUICK.attempts


async def test_a_saga_step_calls_the_provider_once_per_attempt() -> None:
    requests: list[str] = []
    async with busy_provider(requests) as provider:
        client = for_saga_steps(provider)
        with pytest.raises(DependencyUnavailable):
            await client.post_unambiguous("/holds/h1/confirm", None, idempotency_key="k")
    assert requests == ["POST /holds/h1/confirm"]


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
