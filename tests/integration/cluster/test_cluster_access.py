"""Starting against a cluster: credentials reach every node; a wrong password or a plain Redis stops it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from kit.redis_connection import (
    RedisMode,
    RedisSettings,
    blocking_reader,
    check_access,
    pubsub_client,
    redis_client,
    sync_redis_client,
)
from kit.redis_scripts import run_script
from kit.settings import ConfigError
from tests.support.redis_cluster import LocalRedisCluster, start_cluster

# URL-reserved characters prove the password reaches every node still decoded right.
PASSWORD = f"cl:@/{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def locked_cluster() -> Iterator[LocalRedisCluster]:
    cluster = start_cluster(masters=3, password=PASSWORD)
    yield cluster
    cluster.close()


async def test_the_password_in_the_url_reaches_every_node_and_every_client_made_from_it(
    locked_cluster: LocalRedisCluster, namespace: str
) -> None:
    assert quote(PASSWORD, safe="") in locked_cluster.url
    settings = RedisSettings.checked(locked_cluster.url, mode=RedisMode.CLUSTER)
    client = redis_client(settings, decode_responses=True)
    reader = blocking_reader(client, 5.0)
    listener = pubsub_client(client)
    try:
        await check_access(client, settings)
        keys = [f"{namespace}:{{p{n}}}:k" for n in range(12)]
        for key in keys:
            assert await run_script(client, "return redis.call('INCR', KEYS[1])", [key], []) == 1
        assert await reader.get(keys[-1]) == "1"
        assert await listener.ping()
    finally:
        await reader.aclose()
        await listener.aclose()
        await client.aclose()


def test_the_synchronous_client_of_tools_speaks_cluster_too(
    locked_cluster: LocalRedisCluster, namespace: str
) -> None:
    settings = RedisSettings.checked(locked_cluster.url, mode=RedisMode.CLUSTER)
    client = sync_redis_client(settings, decode_responses=True)
    try:
        keys = [f"{namespace}:{{p{n}}}:sync" for n in range(12)]
        for key in keys:
            client.set(key, "1", ex=60)
        assert sorted(client.scan_iter(match=f"{namespace}:*:sync")) == sorted(keys)
    finally:
        client.close()


async def test_a_wrong_password_stops_the_process_with_one_line(locked_cluster: LocalRedisCluster) -> None:
    url = locked_cluster.url.replace(quote(PASSWORD, safe=""), "wrong")
    settings = RedisSettings.checked(url, mode=RedisMode.CLUSTER)
    client = redis_client(settings)
    try:
        with pytest.raises(ConfigError, match="refused the credentials in REDIS_URL") as refused:
            await check_access(client, settings)
        assert "wrong" not in str(refused.value)
    finally:
        await client.aclose()


async def test_cluster_mode_against_a_plain_redis_says_so(redis_url: str) -> None:
    settings = RedisSettings.checked(redis_url, mode=RedisMode.CLUSTER)
    client = redis_client(settings)
    try:
        with pytest.raises(ConfigError, match=r"REDIS_MODE is cluster, but Redis at .* is not a cluster"):
            await check_access(client, settings)
    finally:
        await client.aclose()
