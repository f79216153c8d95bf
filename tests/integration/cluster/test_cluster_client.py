"""The cluster-mode client on a real three-master Redis Cluster: scripts, blocking reads, pub/sub, scans.

Why the bus keys are partitioned: a Lua script (or any multi-key command) runs on one node and
must touch one hash slot, so the keys one call touches share a `{tag}`.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import ClusterCrossSlotError, RedisClusterException, ResponseError

from kit.redis_connection import RedisMode, RedisSettings, blocking_reader, pubsub_client, redis_client
from kit.redis_scripts import load_script, run_script, run_script_batch, script_sha
from tests.support.polling import eventually
from tests.support.pubsub import next_message
from tests.support.redis_cluster import LocalRedisCluster

# Sets both keys to ARGV[1] and answers the second: two keys, one call.
SET_BOTH = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return redis.call('GET', KEYS[2])
"""
# Counts its calls per key, so a call sent twice shows.
COUNT = "return redis.call('INCR', KEYS[1])"
# Writes its key and announces it, as the bus's commit does on a session's change channel.
WRITE_AND_ANNOUNCE = "redis.call('SET', KEYS[1], ARGV[2]); return redis.call('PUBLISH', ARGV[1], ARGV[2])"


def round_trips() -> float:
    return REGISTRY.get_sample_value("travel_redis_round_trips_total") or 0.0


def owner(client: RedisCluster, key: str) -> ClusterNode:
    node = client.get_node_from_key(key)
    assert node is not None
    return node


def keys_on_every_node(client: RedisCluster, namespace: str, suffix: str) -> list[str]:
    """One key per partition tag `{pN}`, enough partitions that every master holds some."""
    keys = [f"{namespace}:{{p{n}}}:{suffix}" for n in range(12)]
    assert {owner(client, key).name for key in keys} == {node.name for node in client.get_primaries()}
    return keys


async def test_a_script_runs_on_keys_sharing_a_tag_and_is_refused_across_tags(
    cluster_client: RedisCluster, namespace: str
) -> None:
    same = [f"{namespace}:{{p3}}:stream", f"{namespace}:{{p3}}:delayed"]
    assert await run_script(cluster_client, SET_BOTH, same, ["v"]) == "v"

    across = [f"{namespace}:{{p3}}:stream", f"{namespace}:{{p4}}:delayed"]
    assert cluster_client.keyslot(across[0]) != cluster_client.keyslot(across[1])
    # redis-py refuses before sending anything...
    with pytest.raises(RedisClusterException, match="all keys must map to the same key slot"):
        await run_script(cluster_client, SET_BOTH, across, ["v"])
    # ...and a node sent the call anyway answers CROSSSLOT.
    with pytest.raises(ClusterCrossSlotError, match="don't hash to the same slot"):
        await cluster_client.execute_command(
            "EVALSHA", script_sha(SET_BOTH), 2, *across, "v", target_nodes=owner(cluster_client, across[0])
        )
    assert await cluster_client.exists(across[1]) == 0


async def test_a_script_reaching_for_a_key_of_another_node_fails_there(
    cluster_client: RedisCluster, namespace: str
) -> None:
    reach = "redis.call('SET', KEYS[1], 'x'); return redis.call('SET', ARGV[1], 'y')"
    mine = f"{namespace}:{{p3}}:stream"
    elsewhere = next(
        key
        for key in (f"{namespace}:{{p{n}}}:other" for n in range(12))
        if owner(cluster_client, key) != owner(cluster_client, mine)
    )
    with pytest.raises(ResponseError, match="non local key"):
        await run_script(cluster_client, reach, [mine], [elsewhere])


async def test_script_load_reaches_every_primary_and_a_forgotten_script_is_loaded_again(
    cluster_client: RedisCluster, namespace: str
) -> None:
    sha = await load_script(cluster_client, COUNT)
    assert sha == script_sha(COUNT)
    for node in cluster_client.get_primaries():
        assert await cluster_client.execute_command("SCRIPT EXISTS", sha, target_nodes=node) == [True]

    key = f"{namespace}:{{p5}}:counter"
    node = owner(cluster_client, key)
    await cluster_client.execute_command("SCRIPT FLUSH", target_nodes=node)
    assert await cluster_client.execute_command("SCRIPT EXISTS", sha, target_nodes=node) == [False]
    assert await run_script(cluster_client, COUNT, [key], []) == 1
    assert await cluster_client.execute_command("SCRIPT EXISTS", sha, target_nodes=node) == [True]


async def test_a_pipeline_of_script_calls_goes_to_each_node_once_and_reloads_where_forgotten(
    cluster_client: RedisCluster, namespace: str
) -> None:
    keys = keys_on_every_node(cluster_client, namespace, "counter")
    calls: list[tuple[list[str], list[str]]] = [([key], []) for key in keys]
    assert await run_script_batch(cluster_client, COUNT, calls) == [1] * len(keys)

    # Every node has a connection now: the next batch costs one round trip per node.
    before = round_trips()
    assert await run_script_batch(cluster_client, COUNT, calls) == [2] * len(keys)
    assert round_trips() - before == len(cluster_client.get_primaries())

    # One node forgets the script: its calls come back NOSCRIPT and are sent again, the others not.
    forgetful = owner(cluster_client, keys[0])
    await cluster_client.execute_command("SCRIPT FLUSH", target_nodes=forgetful)
    assert await run_script_batch(cluster_client, COUNT, calls) == [3] * len(keys)


async def test_a_pipeline_with_a_call_across_slots_is_refused_before_sending(
    cluster_client: RedisCluster, namespace: str
) -> None:
    good: tuple[list[str], list[str]] = ([f"{namespace}:{{p1}}:a"], [])
    across: tuple[list[str], list[str]] = ([f"{namespace}:{{p1}}:a", f"{namespace}:{{p2}}:a"], [])
    with pytest.raises(RedisClusterException, match="same key slot"):
        await run_script_batch(cluster_client, COUNT, [good, across])
    assert await cluster_client.exists(good[0][0]) == 0


async def test_a_blocking_read_through_the_blocking_reader_wakes_on_an_xadd(
    cluster_client: RedisCluster, namespace: str
) -> None:
    stream, group = f"{namespace}:{{p2}}:stream:hotel", "hotel"
    await cluster_client.xgroup_create(stream, group, id="0", mkstream=True)
    reader = blocking_reader(cluster_client, timeout_s=15.0)
    try:

        async def next_entry() -> Any:
            return await reader.xreadgroup(group, "hotel-1", {stream: ">"}, count=1, block=10_000)

        read = asyncio.create_task(next_entry())
        node = owner(cluster_client, stream)

        async def blocked() -> bool:
            clients = await cluster_client.execute_command("CLIENT LIST", target_nodes=node)
            return any(entry.get("cmd") == "xreadgroup" for entry in clients)

        await eventually(blocked, what="XREADGROUP blocked on the stream's node")
        # The command client is free while the reader waits.
        assert await cluster_client.xlen(stream) == 0
        entry_id = await cluster_client.xadd(stream, {"saga_id": "s-1"})
        answer = await asyncio.wait_for(read, timeout=5)
        assert answer == [[stream, [(entry_id, {"saga_id": "s-1"})]]]
    finally:
        await reader.aclose()


async def test_a_publish_from_a_script_on_one_node_reaches_a_subscriber_on_another(
    cluster_client: RedisCluster, namespace: str
) -> None:
    listener = pubsub_client(cluster_client)
    subscription = listener.pubsub()
    try:
        channel = f"{namespace}:session:{{s-1}}:changes"
        await subscription.subscribe(channel)
        assert (await next_message(subscription, what="the subscribe confirmation")) == "1"
        subscribed_port = int(listener.connection_pool.connection_kwargs["port"])
        key = next(
            key
            for key in (f"{namespace}:{{p{n}}}:state" for n in range(12))
            if int(owner(cluster_client, key).port) != subscribed_port
        )
        # PUBLISH answers the subscribers on the node it ran on: none here, yet the message travels.
        assert await run_script(cluster_client, WRITE_AND_ANNOUNCE, [key], [channel, "confirmed"]) == 0
        assert await next_message(subscription, what="the announced change") == "confirmed"
    finally:
        await subscription.aclose()
        await listener.aclose()


async def test_scan_visits_every_node_for_a_namespace(cluster_client: RedisCluster, namespace: str) -> None:
    keys = keys_on_every_node(cluster_client, namespace, "steps")
    for key in keys:
        await cluster_client.set(key, "1", ex=60)
    await cluster_client.set(f"other-{namespace}:{{p1}}:steps", "1", ex=60)
    found = [key async for key in cluster_client.scan_iter(match=f"{namespace}:*", count=100)]
    assert sorted(found) == sorted(keys)


@pytest.mark.parametrize("yields", range(6))
async def test_a_command_survives_its_node_closing_free_connections(
    redis_cluster: LocalRedisCluster, namespace: str, yields: int
) -> None:
    """The cluster client closes a node's free connections when it reads a new slot map; a command
    that took one of them meanwhile is sent again, at each moment of the close."""
    settings = RedisSettings.checked(redis_cluster.url, mode=RedisMode.CLUSTER)
    client = cast(RedisCluster, redis_client(settings, decode_responses=True, socket_timeout=5))
    key = f"{namespace}:closing"
    try:
        await client.set(key, "before")
        closing = asyncio.create_task(owner(client, key).disconnect_free_connections())
        for _ in range(yields):
            await asyncio.sleep(0)
        await client.set(key, "after")
        await closing
        assert await client.get(key) == "after"
    finally:
        await client.delete(key)
        await client.aclose()
