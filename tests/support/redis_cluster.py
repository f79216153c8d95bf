"""Real Redis Cluster fixtures; a conftest imports them by name. The cluster itself: operations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from operations.redis_cluster import (
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
    "redis_cluster",
    "redis_cluster_with_replicas",
    "start_cluster",
]


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
