"""Deadlines in a Redis sorted set, claimed atomically with a lease so no two workers act at once."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

# Moves due deadlines into the lease set in one atomic step, and reclaims leases whose worker died.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local claimed = {}
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ARGV[2], member)
  table.insert(claimed, member)
end
for _, member in ipairs(stale) do
  redis.call('ZADD', KEYS[2], ARGV[2], member)
  table.insert(claimed, member)
end
return claimed
"""


class DeadlineSchedule:
    """`{ns}:expiry:deadlines` holds session id -> deadline (ms); `{ns}:expiry:leases` the claimed ones."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        # One hash tag, so both sets live in one Redis Cluster slot and the script may touch both.
        self.deadlines_key = f"{namespace}:{{expiry}}:deadlines"
        self.leases_key = f"{namespace}:{{expiry}}:leases"
        self._claim = redis.register_script(_CLAIM)

    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        await self._redis.zadd(self.deadlines_key, {session_id: deadline_ms})

    async def schedule_many(self, deadlines: dict[str, int]) -> None:
        if deadlines:
            await self._redis.zadd(self.deadlines_key, deadlines)

    async def claim_due(self, now_ms: int, lease_until_ms: int, limit: int) -> list[str]:
        members = await self._claim(
            keys=[self.deadlines_key, self.leases_key], args=[now_ms, lease_until_ms, limit]
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def release(self, session_ids: Sequence[str]) -> None:
        """Forget claimed deadlines once the arbiter has answered for them."""
        if session_ids:
            await self._redis.zrem(self.leases_key, *session_ids)

    async def pending(self) -> int:
        return int(await self._redis.zcard(self.deadlines_key)) + int(
            await self._redis.zcard(self.leases_key)
        )
