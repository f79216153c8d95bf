"""Deadlines in Redis sorted sets, one pair per bus partition, claimed atomically with a lease."""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bus.keys import BusKeys
from kit.redis_connection import pubsub_client
from kit.redis_scripts import ScriptRun

log = logging.getLogger(__name__)

# The schedules' names: session deadlines the expiry worker expires, and stuck-saga checks.
SESSION_DEADLINES = "expiry"
STUCK_CHECKS = "stuck-sagas"

# Moves due deadlines into the lease set in one atomic step, and reclaims leases whose worker died.
# ARGV: now, lease until, how many due deadlines, how many run-out leases (either may be 0).
# Answers the due members with their deadlines (how late they are claimed), then the reclaimed
# ones with the leases that ran out (so claims from several partitions merge in order).
_CLAIM = """
local due = {}
local stale = {}
if tonumber(ARGV[3]) > 0 then
  due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
end
if tonumber(ARGV[4]) > 0 then
  stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[4])
end
for i = 1, #due, 2 do
  redis.call('ZREM', KEYS[1], due[i])
  redis.call('ZADD', KEYS[2], ARGV[2], due[i])
end
for i = 1, #stale, 2 do
  redis.call('ZADD', KEYS[2], ARGV[2], stale[i])
end
return {due, stale}
"""

# Adds deadlines (ARGV: channel, `LT` to keep an earlier deadline or '' to move it, then
# score/member pairs); when one falls due before every deadline already in this partition, says
# so on the channel, so a worker asleep until the old earliest wakes sooner. Other partitions'
# sets live in other slots, out of the script's reach: comparing with this partition only tells
# of every deadline earlier than all others, and of some that are not (the worker ignores those).
_SCHEDULE = """
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest
for i = 3, #ARGV, 2 do
  local score = tonumber(ARGV[i])
  if ARGV[2] == 'LT' then
    redis.call('ZADD', KEYS[1], 'LT', score, ARGV[i + 1])
  else
    redis.call('ZADD', KEYS[1], score, ARGV[i + 1])
  end
  if earliest == nil or score < earliest then earliest = score end
end
if earliest ~= nil and (head[2] == nil or earliest < tonumber(head[2])) then
  redis.call('PUBLISH', ARGV[1], string.format('%d', earliest))
end
return 0
"""

# How long a lost subscription waits before subscribing again.
_RESUBSCRIBE_SECONDS = 1.0
# Members asked about per command, so one question about many sessions never sends one huge reply.
_CHUNK = 1000

# (score, member, partition) of one deadline or lease seen by a claim.
_Seen = tuple[float, str, int]


class DeadlineSchedule:
    """Per partition p, `{ns}:{pP}:{name}:deadlines` holds id -> deadline (ms) and
    `{ns}:{pP}:{name}:leases` the claimed ones; a session's partition is the bus's (`keys`).

    `name` is `SESSION_DEADLINES` or `STUCK_CHECKS`; `claimed_late` hears how late (seconds) due ones were
    claimed. One pub/sub channel per namespace and name announces earlier deadlines: a channel is
    no key, so a cluster delivers it from any node.
    """

    def __init__(
        self,
        redis: Redis,
        keys: BusKeys,
        name: str = SESSION_DEADLINES,
        claimed_late: Callable[[Sequence[float]], None] | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._name = name
        self.earlier_channel = f"{keys.namespace}:{name}:earlier"
        self._claimed_late = claimed_late
        # Each call touches the two sets of one partition, one slot: callable on a cluster client.
        self._claim = redis.register_script(_CLAIM)
        self._schedule = redis.register_script(_SCHEDULE)

    @property
    def keys(self) -> BusKeys:
        """The bus's keys, whose partition of a session is the partition of its deadline."""
        return self._keys

    def deadlines_key(self, partition: int) -> str:
        return f"{self._keys.namespace}:{{p{partition}}}:{self._name}:deadlines"

    def leases_key(self, partition: int) -> str:
        """Same hash tag as the partition's deadlines, so one script may move members between them."""
        return f"{self._keys.namespace}:{{p{partition}}}:{self._name}:leases"

    def all_keys(self) -> list[str]:
        """Every key of the schedule, for tools and tests that drop it."""
        return [
            key for p in self._keys.all_partitions() for key in (self.deadlines_key(p), self.leases_key(p))
        ]

    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        await self.schedule_many({session_id: deadline_ms})

    async def schedule_many(self, deadlines: dict[str, int], keep_earlier: bool = False) -> None:
        """Add deadlines; one already scheduled moves, or with `keep_earlier` stays if it is earlier."""
        runs = self.schedule_runs(deadlines, keep_earlier)
        await asyncio.gather(*(self._schedule(keys=keys, args=args) for _, keys, args in runs))

    def schedule_runs(self, deadlines: dict[str, int], keep_earlier: bool = False) -> list[ScriptRun]:
        """The script calls of `schedule_many`, one per partition, for a pipeline that carries others."""
        mode = "LT" if keep_earlier else ""
        return [
            (
                _SCHEDULE,
                [self.deadlines_key(partition)],
                [self.earlier_channel, mode, *[part for sid in ids for part in (deadlines[sid], sid)]],
            )
            for partition, ids in self._by_partition(deadlines).items()
        ]

    async def claim_due(self, now_ms: int, lease_until_ms: int, limit: int) -> list[str]:
        """At most `limit` due deadlines, earliest first over all partitions, then at most `limit`
        run-out leases.

        `limit` holds over the whole schedule, not per partition: a worker asking for a batch gets
        no more than it asked for however many partitions there are. So a first read (one
        pipeline, no claim) picks which partitions hold the earliest `limit` of each kind, then the
        claim script takes that many in each. If another worker claimed some meanwhile, the script
        takes what is due next in that partition or fewer: never a member twice, never more.
        """
        if limit <= 0:
            return []
        due_seen, stale_seen = await self._peek(now_ms, limit)
        due_counts = _counts(heapq.nsmallest(limit, due_seen))
        stale_counts = _counts(heapq.nsmallest(limit, stale_seen))
        partitions = sorted(due_counts.keys() | stale_counts.keys())
        # Should one partition's call fail, what the others claimed stays leased and is claimed
        # again once the lease runs out, as a dead worker's claims are.
        answers = await asyncio.gather(
            *(
                self._claim(
                    keys=[self.deadlines_key(p), self.leases_key(p)],
                    args=[now_ms, lease_until_ms, due_counts.get(p, 0), stale_counts.get(p, 0)],
                )
                for p in partitions
            )
        )
        fresh = sorted(pair for due, _ in answers for pair in _pairs(due))
        stale = sorted(pair for _, reclaimed in answers for pair in _pairs(reclaimed))
        if self._claimed_late is not None and fresh:
            self._claimed_late([(now_ms - score) / 1000 for score, _ in fresh])
        return [member for _, member in fresh] + [member for _, member in stale]

    async def release(self, session_ids: Sequence[str]) -> None:
        """Forget claimed deadlines once whoever acts on them has answered for them."""
        by_partition = self._by_partition(session_ids)
        if by_partition:
            # Not a transaction: on a cluster redis-py sends each node its share of the pipeline.
            pipe = self._redis.pipeline(transaction=False)
            for partition, ids in by_partition.items():
                pipe.zrem(self.leases_key(partition), *ids)
            await pipe.execute()

    async def next_due_ms(self) -> int | None:
        """When the next deadline, or the next lease of a worker that may have died, falls due."""
        pipe = self._redis.pipeline(transaction=False)
        for key in self.all_keys():
            pipe.zrange(key, 0, 0, withscores=True)
        heads = [int(score) for found in await pipe.execute() for _, score in found]
        return min(heads, default=None)

    async def watch_earlier(self, earlier: Callable[[int], None]) -> None:
        """Call `earlier(deadline_ms)` for each deadline scheduled before all others, and for some
        scheduled before all others of their partition only, until cancelled.

        After a lost subscription it calls `earlier(0)`: what was said meanwhile is unknown.
        """
        while True:
            # On a cluster, a plain client of one node: it hears a PUBLISH from any node.
            listener = pubsub_client(self._redis)
            pubsub = listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.earlier_channel)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        earlier(int(message["data"]))
            except (RedisError, OSError) as error:
                log.warning("deadline notices paused: %s", error)
            finally:
                await pubsub.aclose()
                if listener is not self._redis:
                    await listener.aclose()
            await asyncio.sleep(_RESUBSCRIBE_SECONDS)
            earlier(0)

    async def pending(self) -> int:
        pipe = self._redis.pipeline(transaction=False)
        for key in self.all_keys():
            pipe.zcard(key)
        return sum(int(count) for count in await pipe.execute())

    async def scheduled(self, session_ids: Sequence[str]) -> set[str]:
        """Those of `session_ids` with a deadline waiting or claimed."""
        pipe = self._redis.pipeline(transaction=False)
        asked: list[list[str]] = []
        for partition, ids in self._by_partition(session_ids).items():
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                pipe.zmscore(self.deadlines_key(partition), chunk)
                pipe.zmscore(self.leases_key(partition), chunk)
                asked.append(chunk)
        if not asked:
            return set()
        answers = await pipe.execute()
        return {
            session_id
            for chunk, waiting, claimed in zip(asked, answers[0::2], answers[1::2], strict=True)
            for session_id, deadline, lease in zip(chunk, waiting, claimed, strict=True)
            if deadline is not None or lease is not None
        }

    def _by_partition(self, session_ids: Iterable[str]) -> dict[int, list[str]]:
        grouped: dict[int, list[str]] = defaultdict(list)
        for session_id in session_ids:
            grouped[self._keys.partition_of(session_id)].append(session_id)
        return grouped

    async def _peek(self, now_ms: int, limit: int) -> tuple[list[_Seen], list[_Seen]]:
        """The earliest `limit` due deadlines and run-out leases of each partition, without claiming."""
        pipe = self._redis.pipeline(transaction=False)
        for p in self._keys.all_partitions():
            pipe.zrangebyscore(self.deadlines_key(p), "-inf", now_ms, start=0, num=limit, withscores=True)
            pipe.zrangebyscore(self.leases_key(p), "-inf", now_ms, start=0, num=limit, withscores=True)
        answers = await pipe.execute()
        due: list[_Seen] = []
        stale: list[_Seen] = []
        for p, waiting, claimed in zip(
            self._keys.all_partitions(), answers[0::2], answers[1::2], strict=True
        ):
            due.extend((float(score), _text(member), p) for member, score in waiting)
            stale.extend((float(score), _text(member), p) for member, score in claimed)
        return due, stale


def _counts(seen: Iterable[_Seen]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for _, _, partition in seen:
        counts[partition] += 1
    return counts


def _pairs(flat: Sequence[Any]) -> list[tuple[float, str]]:
    """(score, member) of a flat WITHSCORES answer from a script."""
    return [
        (float(_text(score)), _text(member)) for member, score in zip(flat[0::2], flat[1::2], strict=True)
    ]


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
