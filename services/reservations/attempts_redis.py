"""Reserve attempts in Redis: a hash per session and an index per partition, changed together by script."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import groupby
from typing import Any

from redis.exceptions import RedisError

from bus.keys import BusKeys
from kit.errors import DependencyUnavailable
from kit.redis_connection import AnyRedis
from kit.redis_scripts import ScriptCall, run_script, run_script_batch
from services.reservations.attempts import ReserveAttempt, attempts_of

log = logging.getLogger(__name__)


def attempts_key(keys: BusKeys, session_id: str) -> str:
    """Hash of a session's reserve attempts not yet settled (`<participant>|<attempt>` -> start,
    ms), in the session's partition so an attempt and its index change in one script."""
    return keys.session_key(session_id, "reserving")


def attempt_index_key(keys: BusKeys, partition: int) -> str:
    """Sorted set of the partition's sessions with an unsettled reserve attempt, scored by the
    earliest attempt's start (ms): where the sweep looks for attempts left behind."""
    return keys.partition_key(partition, "reserving")


# KEYS: the session's attempts, the partition's index. ARGV: session id, field, start (ms).
# The index keeps the earliest start of the session's attempts (LT), so the sweep finds the oldest.
RECORD = """
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], 'LT', ARGV[3], ARGV[1])
return 1
"""

# KEYS: as RECORD. ARGV: session id, then the fields to drop. The index follows what is left.
CLEAR = """
for i = 2, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
local left = redis.call('HVALS', KEYS[1])
if #left == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  local earliest = tonumber(left[1])
  for i = 2, #left do earliest = math.min(earliest, tonumber(left[i])) end
  redis.call('ZADD', KEYS[2], earliest, ARGV[1])
end
return #left
"""

# KEYS: as RECORD. ARGV: session id, participant prefix (`<participant>|`), then the fields to drop.
# As CLEAR, then answers the participant's fields left, flat: field, start, field, start...
ACCOUNT = """
for i = 3, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
local left = redis.call('HGETALL', KEYS[1])
local mine = {}
local earliest = nil
for i = 1, #left, 2 do
  local started = tonumber(left[i + 1])
  if earliest == nil or started < earliest then earliest = started end
  if string.sub(left[i], 1, #ARGV[2]) == ARGV[2] then
    mine[#mine + 1] = left[i]
    mine[#mine + 1] = left[i + 1]
  end
end
if earliest == nil then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], earliest, ARGV[1])
end
return mine
"""


def _fields(found: Mapping[Any, Any]) -> dict[str, str]:
    """A hash as text, whether the client decodes answers or not."""
    return {_text(field): _text(value) for field, value in found.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisAttemptLog:
    def __init__(self, redis: AnyRedis, keys: BusKeys, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock

    def _script_keys(self, session_id: str) -> list[str]:
        partition = self._keys.partition_of(session_id)
        return [attempts_key(self._keys, session_id), attempt_index_key(self._keys, partition)]

    async def record(self, session_id: str, participant: str) -> ReserveAttempt:
        attempt = ReserveAttempt(session_id, participant, uuid.uuid4().hex, int(self._clock() * 1000))
        try:
            await run_script(
                self._redis,
                RECORD,
                self._script_keys(session_id),
                [session_id, attempt.field, attempt.started_ms],
            )
        except (RedisError, OSError) as error:
            # No record, no hold: a hold nobody could find again is worse than a refused request.
            raise DependencyUnavailable(f"cannot record the reserve attempt: {error}") from error
        return attempt

    async def settle(self, attempt: ReserveAttempt) -> None:
        try:
            await self.clear([attempt])
        except (RedisError, OSError):
            log.exception("reserve attempt %s of %s stays recorded", attempt.field, attempt.session_id)

    async def account_for(
        self, session_id: str, participant: str, attempt_ids: Collection[str]
    ) -> list[ReserveAttempt]:
        dropped = [ReserveAttempt(session_id, participant, a, 0).field for a in sorted(attempt_ids)]
        prefix = ReserveAttempt(session_id, participant, "", 0).field
        flat = await run_script(
            self._redis, ACCOUNT, self._script_keys(session_id), [session_id, prefix, *dropped]
        )
        left = dict(zip(flat[::2], flat[1::2], strict=True))
        return attempts_of(session_id, _fields(left))

    async def unsettled(self, session_id: str, participant: str) -> list[ReserveAttempt]:
        fields = _fields(await self._redis.hgetall(attempts_key(self._keys, session_id)))
        return [a for a in attempts_of(session_id, fields) if a.participant == participant]

    async def started_before(self, cutoff_ms: int) -> list[ReserveAttempt]:
        """Every partition's attempts started before `cutoff_ms`: two round trips, whatever the count."""
        pipe = self._redis.pipeline(transaction=False)
        for partition in self._keys.all_partitions():
            pipe.zrangebyscore(attempt_index_key(self._keys, partition), "-inf", f"({cutoff_ms}")
        sessions = [_text(s) for found in await pipe.execute() for s in found]
        if not sessions:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for session_id in sessions:
            pipe.hgetall(attempts_key(self._keys, session_id))
        recorded = await pipe.execute()
        return [
            attempt
            for session_id, fields in zip(sessions, recorded, strict=True)
            for attempt in attempts_of(session_id, _fields(fields))
            if attempt.started_ms < cutoff_ms
        ]

    async def clear(self, attempts: Sequence[ReserveAttempt]) -> None:
        """Drop the attempts' records: one script per session, one round trip in all."""
        calls: list[ScriptCall] = []
        for session_id, group in groupby(
            sorted(attempts, key=lambda a: a.session_id), lambda a: a.session_id
        ):
            calls.append((self._script_keys(session_id), [session_id, *(a.field for a in group)]))
        if len(calls) == 1:
            await run_script(self._redis, CLEAR, *calls[0])
        elif calls:
            await run_script_batch(self._redis, CLEAR, calls)
