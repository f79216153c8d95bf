"""A master dies: its replica takes over, and the cluster-mode client finds the new owner by itself.

While the cluster fails over, commands on the dead master's slots fail; every error they fail
with is one `is_transient` names, so a caller's retry loop rides it out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kit.redis_connection import is_transient, pubsub_client
from kit.redis_scripts import run_script
from tests.support.pubsub import next_message
from tests.support.redis_cluster import FAILOVER_TIMEOUT_SECONDS, LocalRedisCluster, cluster_client_of

log = logging.getLogger(__name__)

COUNT = "return redis.call('INCR', KEYS[1])"
ANNOUNCE = "return redis.call('PUBLISH', ARGV[1], ARGV[2])"


async def answered(read: Callable[[], Awaitable[Any]], seen: dict[str, int]) -> Any:
    """Retry `read` as a caller would, counting the errors by kind, until it answers."""
    deadline = time.monotonic() + FAILOVER_TIMEOUT_SECONDS
    while True:
        try:
            return await read()
        except Exception as error:
            assert is_transient(error), f"not a transient error: {error!r}"
            seen[type(error).__name__] = seen.get(type(error).__name__, 0) + 1
            assert time.monotonic() < deadline, f"no answer after {FAILOVER_TIMEOUT_SECONDS} s: {seen}"
            await asyncio.sleep(0.1)  # a caller's pause between attempts


async def keep_reading(read: Callable[[], Awaitable[Any]], seen: dict[str, int], until: asyncio.Event) -> Any:
    """Read again and again, as a busy process would, until `until` is set; the last answer."""
    value = await answered(read, seen)
    while not until.is_set():
        value = await answered(read, seen)
        await asyncio.sleep(0.1)
    return value


async def test_after_a_master_dies_the_client_reads_and_writes_through_the_promoted_replica(
    redis_cluster_with_replicas: LocalRedisCluster, namespace: str
) -> None:
    cluster = redis_cluster_with_replicas
    client = cluster_client_of(cluster)
    await client.initialize()
    # The master to kill is the one pub/sub clients are made on, to see them move too.
    default_port = int(client.get_default_node().port)
    tag = next(n for n in range(12) if cluster.master_of(f"{namespace}:{{p{n}}}:state").port == default_port)
    key, counter = f"{namespace}:{{p{tag}}}:state", f"{namespace}:{{p{tag}}}:counter"
    old_master = cluster.master_of(key)
    (replica,) = cluster.replicas_of(old_master)
    assert int(pubsub_client(client).connection_pool.connection_kwargs["port"]) == old_master.port
    try:
        await client.set(key, "before")
        assert await run_script(client, COUNT, [counter], []) == 1
        # The replica has the writes before its master dies (replication is asynchronous).
        node = client.get_node_from_key(key)
        assert await client.execute_command("WAIT", 1, 5000, target_nodes=node) == 1
        elsewhere = next(
            other
            for other in (f"{namespace}:{{p{n}}}:state" for n in range(12))
            if cluster.master_of(other).node_id != old_master.node_id
        )
        await client.set(elsewhere, "untouched")

        cluster.stop(old_master)
        on_dead: dict[str, int] = {}
        on_live: dict[str, int] = {}
        recovered = asyncio.Event()

        async def dead_slot() -> Any:
            try:
                return await answered(lambda: client.get(key), on_dead)
            finally:
                recovered.set()

        value, other_value = await asyncio.gather(
            dead_slot(), keep_reading(lambda: client.get(elsewhere), on_live, recovered)
        )
        log.info(
            "errors while failing over: dead master's slot %s, a live master's slot %s", on_dead, on_live
        )
        assert (value, other_value) == ("before", "untouched")
        assert on_dead, "the dead master's slot answered at once"

        new_master = await asyncio.to_thread(cluster.wait_for_failover, old_master)
        assert new_master.node_id == replica.node_id
        assert cluster.master_of(key).node_id == replica.node_id

        await client.set(key, "after")
        assert await client.get(key) == "after"
        # SCRIPT LOAD is not replicated: the promoted replica answers NOSCRIPT once, then knows it.
        assert await run_script(client, COUNT, [counter], []) == 2

        # A pub/sub client made now is on a live master, and hears what a script announces.
        listener = pubsub_client(client)
        subscription = listener.pubsub()
        try:
            assert int(listener.connection_pool.connection_kwargs["port"]) != old_master.port
            channel = f"{namespace}:session:{{s-1}}:changes"
            await subscription.subscribe(channel)
            assert await next_message(subscription, what="the subscribe confirmation") == "1"
            await run_script(client, ANNOUNCE, [key], [channel, "after"])
            assert await next_message(subscription, what="the announced change") == "after"
        finally:
            await subscription.aclose()
            await listener.aclose()
    finally:
        await client.aclose()
