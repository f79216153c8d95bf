"""Lua scripts by SHA on one Redis or a Redis Cluster: EVALSHA, loading the script where a node forgot it.

On a cluster a script runs on the node owning its keys' slot, so the keys of one call share a slot
(a `{tag}`); redis-py sends SCRIPT LOAD to every primary, and a pipeline of calls to each node once.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from kit.redis_connection import AnyRedis

# (keys, args) of one script call.
ScriptCall = tuple[Sequence[str], Sequence[Any]]
# (source, keys, args) of one call in a pipeline of several scripts.
ScriptRun = tuple[str, Sequence[str], Sequence[Any]]


@functools.cache
def script_sha(source: str) -> str:
    """The SHA1 EVALSHA names the script by."""
    return hashlib.sha1(source.encode()).hexdigest()


async def load_script(client: AnyRedis, source: str) -> str:
    """SCRIPT LOAD where EVALSHA will look: on a cluster redis-py sends SCRIPT LOAD to every primary
    (its default target for the command), so the node owning any key's slot knows the script."""
    return str(await client.script_load(source))


async def run_script(client: AnyRedis, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """EVALSHA, loading the script first if the node forgot it (a restart, a promoted replica).

    On a cluster the keys must share one slot (a `{tag}`): redis-py refuses keys of several slots
    before sending (RedisClusterException), and a node that got them anyway answers CROSSSLOT.
    SCRIPT LOAD is not replicated, so a replica promoted in a failover answers NOSCRIPT once.
    """
    sha = script_sha(source)
    try:
        return await client.evalsha(sha, len(keys), *keys, *args)
    except NoScriptError:
        await load_script(client, source)
        return await client.evalsha(sha, len(keys), *keys, *args)


async def run_script_batch(client: AnyRedis, source: str, calls: Sequence[ScriptCall]) -> list[Any]:
    """One pipeline of EVALSHA calls (keys, args); the answers in order, the first error raised.

    On a cluster redis-py's pipeline groups the calls by the node owning each call's slot and sends
    each node its share at once (one round trip per node, the nodes in parallel); each call's keys
    must still share one slot, else the whole pipeline is refused before anything is sent
    (RedisClusterException). Calls a node answered NOSCRIPT are sent again, alone, once the script
    is loaded: the others ran and are not repeated.
    """
    sha = script_sha(source)
    results = await _pipelined(client, sha, calls)
    missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:
        await load_script(client, source)
        again = await _pipelined(client, sha, [calls[index] for index in missing])
        for index, result in zip(missing, again, strict=True):
            results[index] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


async def _pipelined(client: AnyRedis, sha: str, calls: Sequence[ScriptCall]) -> list[Any]:
    return await _pipelined_shas(client, [(sha, keys, args) for keys, args in calls])


async def run_scripts(client: AnyRedis, runs: Sequence[ScriptRun]) -> list[Any]:
    """One pipeline of EVALSHA calls of several scripts (source, keys, args); the answers in order,
    each error in its call's place rather than raised. Calls refused NOSCRIPT are sent again, alone,
    once their scripts are loaded, as in `run_script_batch`."""
    if not runs:
        return []
    calls = [(script_sha(source), keys, args) for source, keys, args in runs]
    results = await _pipelined_shas(client, calls)
    missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:
        for source in {runs[index][0] for index in missing}:
            await load_script(client, source)
        again = await _pipelined_shas(client, [calls[index] for index in missing])
        for index, result in zip(missing, again, strict=True):
            results[index] = result
    return results


async def _pipelined_shas(
    client: AnyRedis, calls: Sequence[tuple[str, Sequence[str], Sequence[Any]]]
) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for sha, keys, args in calls:
        # redis-py's cluster pipeline refuses `pipe.evalsha(...)` (EVALSHA is on its list of
        # blocked pipeline methods) but routes the same command sent by name, by its keys' slot.
        pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
    return list(await pipe.execute(raise_on_error=False))
