"""Lua scripts that make each bus write atomic on the Redis server, and their loader."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

# Step commit: mark the step, write where the slip goes next, log history, ack. All or nothing,
# so a crash can never leave a forwarded slip without its ack marker or the other way round.
COMMIT = """
local steps, history, source, target = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, entry_id, marker, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local retention = tonumber(ARGV[5])
local i = 6
local function take()
  local n = tonumber(ARGV[i])
  local fields = {}
  for j = 1, n do fields[j] = ARGV[i + j] end
  i = i + n + 1
  return fields
end
if marker ~= '' and redis.call('HSETNX', steps, marker, mode) == 0 then
  redis.call('XACK', source, group, entry_id)
  return 0
end
local payload = take()
if mode == 'forward' or mode == 'dead' then
  redis.call('XADD', target, '*', unpack(payload))
elseif mode == 'retry' then
  redis.call('ZADD', target, payload[1], payload[2])
end
while i <= #ARGV do
  redis.call('XADD', history, '*', unpack(take()))
end
if marker ~= '' then redis.call('PEXPIRE', steps, retention) end
redis.call('PEXPIRE', history, retention)
redis.call('XACK', source, group, entry_id)
return 1
"""

# Duplicate check for a whole batch in one round trip: 1 where the step marker already exists.
APPLIED = """
local out = {}
for j = 1, #KEYS do out[j] = redis.call('HEXISTS', KEYS[j], ARGV[j]) end
return out
"""

# Saga start (direct or from the outbox relay): publish once per saga step, whoever retries.
PUBLISH = """
local steps, history, stream, session = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local marker, retention, now_ms, saga_id = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
if redis.call('HSETNX', steps, marker, 'published') == 0 then return false end
local n = tonumber(ARGV[5])
local fields = {}
for j = 1, n do fields[j] = ARGV[5 + j] end
local id = redis.call('XADD', stream, '*', unpack(fields))
local h = {}
for j = 6 + n, #ARGV do h[#h + 1] = ARGV[j] end
redis.call('XADD', history, '*', unpack(h))
redis.call('ZADD', session, 'NX', now_ms, saga_id)
redis.call('PEXPIRE', steps, retention)
redis.call('PEXPIRE', history, retention)
redis.call('PEXPIRE', session, retention)
return id
"""

# Move due retries from the delay set back to the stream; atomic so a retry is never lost.
PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', unpack(cjson.decode(member)))
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""

# Replay a dead letter: the XDEL guard makes two operators replaying at once publish it once.
REPLAY = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
local n = tonumber(ARGV[2])
local fields = {}
for j = 1, n do fields[j] = ARGV[2 + j] end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
local h = {}
for j = 3 + n, #ARGV do h[#h + 1] = ARGV[j] end
redis.call('XADD', KEYS[3], '*', unpack(h))
return id
"""


@dataclass(frozen=True)
class LuaScript:
    """A script known by its SHA, so pipelines send EVALSHA without re-checking each time."""

    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()

    async def load(self, redis: Redis) -> None:
        await redis.script_load(self.source)

    async def call(self, redis: Any, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA, loading the script first if the server forgot it (e.g. after a restart)."""
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.load(redis)
            return await redis.evalsha(self.sha, len(keys), *keys, *args)


COMMIT_SCRIPT = LuaScript(COMMIT)
APPLIED_SCRIPT = LuaScript(APPLIED)
PUBLISH_SCRIPT = LuaScript(PUBLISH)
PROMOTE_SCRIPT = LuaScript(PROMOTE)
REPLAY_SCRIPT = LuaScript(REPLAY)
ALL_SCRIPTS = (COMMIT_SCRIPT, APPLIED_SCRIPT, PUBLISH_SCRIPT, PROMOTE_SCRIPT, REPLAY_SCRIPT)


async def load_all(redis: Redis) -> None:
    for script in ALL_SCRIPTS:
        await script.load(redis)
