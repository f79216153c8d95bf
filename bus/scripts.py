"""Lua scripts that make each bus write atomic on the Redis server, and their loader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from kit.redis_scripts import load_script, run_script, script_sha

# A session's notice, numbered: the counter's next value goes in front of the body as protobuf field
# 1 (SessionNotice.seq, a varint). Protobuf reads two serialized messages one after the other as
# one, so the subscriber parses a whole SessionNotice. Lua numbers are doubles: exact far beyond
# any session's notice count.
NUMBERED = """
local function publish_notice(counter, channel, body, retention)
  local seq = redis.call('INCR', counter)
  redis.call('PEXPIRE', counter, retention)
  local out = {string.char(8)}
  while seq >= 128 do
    out[#out + 1] = string.char(seq % 128 + 128)
    seq = math.floor(seq / 128)
  end
  out[#out + 1] = string.char(seq)
  redis.call('PUBLISH', channel, table.concat(out) .. body)
end
"""

# One notice alone (the sessions service's, after a commit): KEYS[1] the counter, ARGV channel,
# body and retention (ms).
NOTICE = (
    NUMBERED
    + """
publish_notice(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return 1
"""
)

# Batch commit: per step, mark it, write where the slip goes next, log history, tell the session's
# watchers, ack; the whole batch is one atomic script, so a crash never leaves a forward without its
# ack or marker.
# The step marker is also the duplicate check, atomic with the write: a forward (or a saga's finish)
# claims the marker with HSETNX, and a retry or dead letter requires it unclaimed; a commit for a
# step already done writes nothing but its ack and a duplicate_skipped record (its first history
# record with that event, as bus.history.as_duplicate rewrites it), and answers 0 for it.
# The n-th step's notice bodies are ARGV[2 + 2n] (what it writes when applied) and ARGV[3 + 2n]
# (its duplicate_skipped record), so watchers hear exactly what the history got; a counted notice
# is numbered from the session's counter, KEYS[5n].
# The batch travels as one JSON argument: packing hundreds of separate arguments costs more
# client CPU than the rest of a hop.
COMMIT = (
    NUMBERED
    + """
local batch = cjson.decode(ARGV[1])
local group, retention = ARGV[2], tonumber(ARGV[3])
local results = {}
for n, c in ipairs(batch) do
  local base = (n - 1) * 5
  local steps, history, source, target = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3], KEYS[base + 4]
  local marker, mode, entry_id, payload = c[1], c[2], c[3], c[4]
  local done = false
  if marker ~= '' then
    if mode == 'forward' or mode == 'finish' then
      done = redis.call('HSETNX', steps, marker, mode) == 0
    else
      done = redis.call('HEXISTS', steps, marker) == 1
    end
  end
  if done then
    local record = {}
    for j, value in ipairs(c[5][1]) do record[j] = value end
    for j = 1, #record - 1, 2 do
      if record[j] == 'event' then record[j + 1] = 'duplicate_skipped'
      elseif record[j] == 'detail' then record[j + 1] = 'step already done' end
    end
    redis.call('XADD', history, '*', unpack(record))
    results[n] = 0
  else
    if mode == 'forward' or mode == 'dead' then
      redis.call('XADD', target, '*', unpack(payload))
    elseif mode == 'retry' then
      redis.call('ZADD', target, payload[1], payload[2])
    end
    for _, record in ipairs(c[5]) do
      redis.call('XADD', history, '*', unpack(record))
    end
    if marker ~= '' then redis.call('PEXPIRE', steps, retention) end
    results[n] = 1
  end
  local body = ARGV[(done and 3 or 2) + 2 * n]
  if c[6] ~= '' and c[7] == 1 then
    publish_notice(KEYS[base + 5], c[6], body, retention)
  elseif c[6] ~= '' then
    redis.call('PUBLISH', c[6], body)
  end
  redis.call('PEXPIRE', history, retention)
  redis.call('XACK', source, group, entry_id)
end
return results
"""
)

# Duplicate check before running handlers, for entries that may have been handled before (redeliveries):
# 1 where the step marker already exists.
APPLIED = """
local out = {}
for j = 1, #KEYS do out[j] = redis.call('HEXISTS', KEYS[j], ARGV[j]) end
return out
"""

# Saga start (direct or from the outbox relay): publish once per saga step, whoever retries.
PUBLISH = (
    NUMBERED
    + """
local steps, history, stream, session, counter = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local marker, retention, now_ms, saga_id = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local changes, notice = ARGV[5], ARGV[6]
if redis.call('HSETNX', steps, marker, 'published') == 0 then return false end
local n = tonumber(ARGV[7])
local fields = {}
for j = 1, n do fields[j] = ARGV[7 + j] end
local id = redis.call('XADD', stream, '*', unpack(fields))
local h = {}
for j = 8 + n, #ARGV do h[#h + 1] = ARGV[j] end
redis.call('XADD', history, '*', unpack(h))
redis.call('ZADD', session, 'NX', now_ms, saga_id)
publish_notice(counter, changes, notice, retention)
redis.call('PEXPIRE', steps, retention)
redis.call('PEXPIRE', history, retention)
redis.call('PEXPIRE', session, retention)
return id
"""
)

# Move due retries from the delay set back to the stream; atomic so a retry is never lost.
# Also answers when the earliest retry left falls due (ms, or -1), so the consumer sleeps until then.
PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', unpack(cjson.decode(member)))
  redis.call('ZREM', KEYS[1], member)
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, head[2] or '-1'}
"""

# A dead letter back to its participant (the XDEL guard makes two operators replaying at once
# publish it once): KEYS the dead letters, the participant's stream, the saga's
# history and, when an operator is named, the partition's operator actions. ARGV the letter's id, how
# many slip fields and history fields follow, the actions' cap, then those fields, then the action's.
REPLAY = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
local n, m = tonumber(ARGV[2]), tonumber(ARGV[3])
local fields = {}
for j = 1, n do fields[j] = ARGV[4 + j] end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
local h = {}
for j = 1, m do h[j] = ARGV[4 + n + j] end
redis.call('XADD', KEYS[3], '*', unpack(h))
if KEYS[4] then
  local a = {'replayed_entry_id', id}
  for j = 5 + n + m, #ARGV do a[#a + 1] = ARGV[j] end
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', unpack(a))
end
return id
"""

# A dead letter set aside for good: KEYS the dead letters and the partition's operator actions;
# ARGV the letter's id, the actions' cap, then the action's fields. The action's id, or false when
# the letter is gone already.
DISCARD = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
local a = {}
for j = 3, #ARGV do a[#a + 1] = ARGV[j] end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(a))
"""


@dataclass(frozen=True)
class LuaScript:
    """A script known by its SHA, so pipelines send EVALSHA without re-checking each time."""

    source: str

    @property
    def sha(self) -> str:
        return script_sha(self.source)

    async def load(self, redis: Redis) -> None:
        await load_script(redis, self.source)

    async def call(self, redis: Any, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA, loading the script first if the server forgot it (e.g. after a restart)."""
        return await run_script(redis, self.source, keys, args)


COMMIT_SCRIPT = LuaScript(COMMIT)
APPLIED_SCRIPT = LuaScript(APPLIED)
PUBLISH_SCRIPT = LuaScript(PUBLISH)
PROMOTE_SCRIPT = LuaScript(PROMOTE)
REPLAY_SCRIPT = LuaScript(REPLAY)
DISCARD_SCRIPT = LuaScript(DISCARD)
NOTICE_SCRIPT = LuaScript(NOTICE)
ALL_SCRIPTS = (
    COMMIT_SCRIPT, APPLIED_SCRIPT, PUBLISH_SCRIPT, PROMOTE_SCRIPT, REPLAY_SCRIPT, DISCARD_SCRIPT,
    NOTICE_SCRIPT,
)  # fmt: skip


async def load_all(redis: Redis) -> None:
    for script in ALL_SCRIPTS:
        await script.load(redis)
