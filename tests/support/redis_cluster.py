"""Real Redis Cluster fixtures; a conftest imports them by name. The cluster itself: operations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from redis.asyncio import RedisCluster

from kit.redis_connection import RedisMode, RedisSettings, redis_client
from tools.redis_cluster import (
    FAILOVER_TIMEOUT_SECONDS,
    ClusterStartError,
    LocalRedisCluster,
    RedisNode,
    running_cluster,
    start_cluster,
)

__all__ = [
    "FAILOVER_TIMEOUT_SECONDS",
    "LocalRedisCluster",
    "RedisNode",
    "cluster_client_of",
    "redis_cluster",
    "redis_cluster_with_replicas",
    "start_cluster",
]


def cluster_client_of(cluster: LocalRedisCluster) -> RedisCluster:
    """The client every process makes with REDIS_MODE=cluster and REDIS_URL naming one node."""
    settings = RedisSettings.checked(cluster.url, mode=RedisMode.CLUSTER)
    return cast(RedisCluster, redis_client(settings, decode_responses=True))


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """Three masters, no replicas, for the whole run; tests keep to their own key namespace."""
    try:
        with running_cluster(masters=3) as cluster:
            yield cluster
    except ClusterStartError as error:
        if "no redis-server" in str(error):
            pytest.skip(str(error))
        raise


@pytest.fixture(scope="module")
def redis_cluster_with_replicas() -> Iterator[LocalRedisCluster]:
    """Three masters with a replica each, per module, since a failover test leaves one fewer."""
    with running_cluster(masters=3, replicas_per_master=1) as cluster:
        yield cluster
