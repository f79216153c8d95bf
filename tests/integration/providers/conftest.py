"""Provider fixtures: start the real app on a free loopback port, each with its own database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from kit.settings import Env
from simulated_world.providers.app import build_app
from simulated_world.providers.clock import Clock
from simulated_world.providers.config import ProviderConfig
from tests.support.databases import POSTGRES_URL, drop_schema
from tests.support.providers import FAST_WEBHOOKS, Provider, ServerThread, StartProvider, WebhookReceiver


@pytest.fixture
def start_provider(tmp_path: Path) -> Iterator[StartProvider]:
    """Start a provider: start_provider("hotel", PROVIDER_HOLD_WINDOW_SECONDS="5", ...)."""
    started: list[Provider] = []
    schemas: list[tuple[str, str]] = []

    def start(kind: str, data_dir: Path | None = None, clock: Clock | None = None, **env: str) -> Provider:
        environ = {"PROVIDER_KIND": kind, "TRAVEL_DATA_DIR": str(data_dir or tmp_path / kind), **env}
        if os.environ.get("PROVIDER_TESTS_ON_POSTGRES") and "DATABASE_URL" not in env:
            # Run the whole provider suite on PostgreSQL; the data folder names the schema.
            prefix = f"t{abs(hash(str(data_dir or tmp_path))) % 10**10}_"
            environ |= {"DATABASE_URL": POSTGRES_URL, "DB_SCHEMA_PREFIX": prefix}
        config = ProviderConfig.from_env(Env(environ))
        if config.schema:
            schemas.append((config.database_url, config.schema))
        server = ServerThread(build_app(config, clock=clock))
        server.start()
        provider = Provider(kind, f"http://127.0.0.1:{server.port}", config, server)
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.server.stop()
    for url, schema in schemas:
        drop_schema(url, schema)


@pytest.fixture
def postgres_env(postgres_url: str) -> dict[str, str]:
    """Settings putting a provider on PostgreSQL, in a schema of its own for this test."""
    return {"DATABASE_URL": postgres_url, "DB_SCHEMA_PREFIX": f"t{uuid.uuid4().hex[:10]}_"}


@pytest.fixture
async def hotel(start_provider: StartProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with start_provider("hotel").client() as client:
        yield client


@pytest.fixture
async def flight(start_provider: StartProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with start_provider("flight").client() as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver answering 200."""
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
async def payment(start_provider: StartProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with start_provider("payment", **FAST_WEBHOOKS).client() as client:
        yield client
