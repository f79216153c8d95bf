"""Shared test fixtures: a unique id per run, the real Redis and PostgreSQL, per-run namespaces."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

RUN_ID = uuid.uuid4().hex[:10]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--dir", str(folder), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        from tenacity import retry, stop_after_delay, wait_fixed

        retry(wait=wait_fixed(0.05), stop=stop_after_delay(10), reraise=True)(
            lambda: _answers("127.0.0.1", port) or (_ for _ in ()).throw(OSError("not up"))
        )()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
    schema = f"t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    yield url, schema
    import psycopg

    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
