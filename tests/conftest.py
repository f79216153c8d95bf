"""Shared test fixtures: a unique id per run, the real Redis and PostgreSQL, per-run namespaces."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.databases import POSTGRES_URL, RUN_ID, drop_schema, new_schema
from tests.support.polling import wait_for
from tests.support.ports import free_port


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture
def unique_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis at 6379, else a private redis-server for this run."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if _answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--dir", str(folder), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: _answers("127.0.0.1", port), timeout=10, what=f"redis-server on port {port}",
            interval=0.05, abort_if=lambda: process.poll() is not None and "redis-server exited",
        )  # fmt: skip
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """An asyncio client of the run's Redis that answers strings."""
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not _answers("127.0.0.1", 5432) and "TEST_POSTGRES_URL" not in os.environ:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(database URL, schema) on SQLite and on PostgreSQL, each test with its own schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}", None
        return
    url = request.getfixturevalue("postgres_url")
    schema = new_schema()
    yield url, schema
    drop_schema(url, schema)
