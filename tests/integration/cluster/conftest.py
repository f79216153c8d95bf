"""A real three-master Redis Cluster (and one with replicas), a cluster-mode client, a namespace per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest
from redis.asyncio import RedisCluster

from services.kit.redis_connection import RedisMode, RedisSettings, redis_client
from tests.support.redis_cluster import LocalRedisCluster, redis_cluster, redis_cluster_with_replicas

__all__ = ["redis_cluster", "redis_cluster_with_replicas"]


def cluster_client_of(cluster: LocalRedisCluster) -> RedisCluster:
    """The client every process makes with REDIS_MODE=cluster and REDIS_URL naming one node."""
    settings = RedisSettings.checked(cluster.url, mode=RedisMode.CLUSTER)
    return cast(RedisCluster, redis_client(settings, decode_responses=True))


@pytest.fixture
def namespace(unique_id: str) -> str:
    return f"cluster-test:{unique_id}"


@pytest.fixture
async def cluster_client(redis_cluster: LocalRedisCluster) -> AsyncIterator[RedisCluster]:
    client = cluster_client_of(redis_cluster)
    await client.initialize()
    yield client
    await client.aclose()
