"""Fixed-window attempt counters in Redis, so every replica of the customers service shares the count."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kit.errors import DependencyUnavailable
from kit.redis_connection import is_transient
from kit.redis_scripts import run_script_batch
from services.customers.attempt_limits import Count, Counter

# Count the attempt and start the window on the first one, atomically: a crash between INCR and
# PEXPIRE would otherwise leave a counter that never resets.
HIT = """
local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {attempts, ttl}
"""


class RedisAttemptCounter:
    """Counts attempts under `<namespace>:limits:`; one key per counter, so it works on a cluster."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace

    def key(self, counter: Counter) -> str:
        return f"{self._namespace}:limits:{counter.name}:{counter.subject}"

    async def hit(self, counters: Sequence[Counter]) -> list[Count]:
        """Count one attempt on each counter, in one round trip (one per node on a cluster)."""
        calls = [([self.key(counter)], [counter.limit.window_seconds * 1000]) for counter in counters]
        try:
            replies = await run_script_batch(self._redis, HIT, calls)
        except Exception as error:
            if not (isinstance(error, RedisError) or is_transient(error)):
                raise
            # Refuse rather than let attempts through uncounted while Redis is away.
            raise DependencyUnavailable(f"attempt counters are unavailable: {error}") from None
        return [
            Count(counter, attempts=int(attempts), resets_in_ms=int(ttl))
            for counter, (attempts, ttl) in zip(counters, replies, strict=True)
        ]
