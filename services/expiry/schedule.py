"""Deadlines in a Redis sorted set, claimed atomically with a lease so no two workers act at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Moves due deadlines into the lease set in one atomic step, and reclaims leases whose worker died.
# Answers the due members with their deadlines (how late they are claimed), then the reclaimed ones.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local fresh = {}
for i = 1, #due, 2 do
  redis.call('ZREM', KEYS[1], due[i])
  redis.call('ZADD', KEYS[2], ARGV[2], due[i])
  table.insert(fresh, due[i])
  table.insert(fresh, due[i + 1])
end
for _, member in ipairs(stale) do
  redis.call('ZADD', KEYS[2], ARGV[2], member)
end
return {fresh, stale}
"""

# Adds deadlines (ARGV: channel, `LT` to keep an earlier deadline or '' to move it, then
# score/member pairs); when one falls due before every deadline already there, says so on the
# channel, so a worker asleep until the old earliest wakes sooner.
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


class DeadlineSchedule:
    """`{ns}:{name}:deadlines` holds id -> deadline (ms); `{ns}:{name}:leases` the claimed ones.

    `name` is `expiry` for session deadlines; `claimed_late` hears how late (seconds) due ones were claimed.
    """

    def __init__(
        self,
        redis: Redis,
        namespace: str,
        name: str = "expiry",
        claimed_late: Callable[[Sequence[float]], None] | None = None,
    ) -> None:
        self._redis = redis
        # One hash tag, so both sets live in one Redis Cluster slot and the script may touch both.
        self.deadlines_key = f"{namespace}:{{{name}}}:deadlines"
        self.leases_key = f"{namespace}:{{{name}}}:leases"
        self.earlier_channel = f"{namespace}:{{{name}}}:earlier"
        self._claimed_late = claimed_late
        self._claim = redis.register_script(_CLAIM)
        self._schedule = redis.register_script(_SCHEDULE)

    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        await self.schedule_many({session_id: deadline_ms})

    async def schedule_many(self, deadlines: dict[str, int], keep_earlier: bool = False) -> None:
        """Add deadlines; one already scheduled moves, or with `keep_earlier` stays if it is earlier."""
        if deadlines:
            pairs = [part for session_id, ms in deadlines.items() for part in (ms, session_id)]
            mode = "LT" if keep_earlier else ""
            await self._schedule(keys=[self.deadlines_key], args=[self.earlier_channel, mode, *pairs])

    async def claim_due(self, now_ms: int, lease_until_ms: int, limit: int) -> list[str]:
        fresh, stale = await self._claim(
            keys=[self.deadlines_key, self.leases_key], args=[now_ms, lease_until_ms, limit]
        )
        due = [_text(member) for member in fresh[0::2]]
        if self._claimed_late is not None and due:
            self._claimed_late([(now_ms - float(_text(score))) / 1000 for score in fresh[1::2]])
        return due + [_text(member) for member in stale]

    async def release(self, session_ids: Sequence[str]) -> None:
        """Forget claimed deadlines once the arbiter has answered for them."""
        if session_ids:
            await self._redis.zrem(self.leases_key, *session_ids)

    async def next_due_ms(self) -> int | None:
        """When the next deadline, or the next lease of a worker that may have died, falls due."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrange(self.deadlines_key, 0, 0, withscores=True)
        pipe.zrange(self.leases_key, 0, 0, withscores=True)
        heads = [int(score) for found in await pipe.execute() for _, score in found]
        return min(heads, default=None)

    async def watch_earlier(self, earlier: Callable[[int], None]) -> None:
        """Call `earlier(deadline_ms)` for each deadline scheduled before all others, until cancelled.

        After a lost subscription it calls `earlier(0)`: what was said meanwhile is unknown.
        """
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
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
            await asyncio.sleep(_RESUBSCRIBE_SECONDS)
            earlier(0)

    async def pending(self) -> int:
        return int(await self._redis.zcard(self.deadlines_key)) + int(
            await self._redis.zcard(self.leases_key)
        )


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
