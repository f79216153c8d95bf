"""A real three-master Redis Cluster (and one with replicas), a cluster-mode client, a namespace per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import RedisCluster

from tests.support.redis_cluster import (
    LocalRedisCluster,
    cluster_client_of,
    redis_cluster,
    redis_cluster_with_replicas,
)

__all__ = ["cluster_client_of", "redis_cluster", "redis_cluster_with_replicas"]


@pytest.fixture
def namespace(unique_id: str) -> str:
    return f"cluster-test:{unique_id}"


@pytest.fixture
async def cluster_client(redis_cluster: LocalRedisCluster) -> AsyncIterator[RedisCluster]:
    client = cluster_client_of(redis_cluster)
    await client.initialize()
    yield client
    await client.aclose()
