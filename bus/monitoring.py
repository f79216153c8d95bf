"""Figures per consumer group: stream length, lag, pending, and pending entries that look stuck."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bus.keys import BusKeys
from bus.replies import text

LAG_COUNT_CAP = 10_000  # on Redis 6.2 lag is counted by reading; past this it is "at least"


@dataclass(frozen=True)
class StuckEntry:
    """A pending entry idle longer than the threshold."""

    entry_id: str
    consumer: str
    idle_ms: int
    deliveries: int


@dataclass(frozen=True)
class GroupFigures:
    """Health of one participant's consumer group."""

    participant: str
    stream: str
    length: int
    consumers: int
    pending: int
    lag: int
    delayed_retries: int
    stuck: tuple[StuckEntry, ...]


async def _lag(redis: Redis, stream: str, info: dict) -> int:
    lag = info.get("lag")
    if lag is not None:
        return int(lag)
    # Redis 6.2 has no lag figure: count entries after the group's last delivered id.
    start = "(" + text(info.get("last-delivered-id", "0-0"))
    return len(await redis.xrange(stream, min=start, max="+", count=LAG_COUNT_CAP) or [])


async def _stuck(redis: Redis, stream: str, group: str, older_than_ms: int) -> list[StuckEntry]:
    rows = await redis.xpending_range(stream, group, "-", "+", 100, idle=older_than_ms)
    return [
        StuckEntry(
            entry_id=text(row["message_id"]),
            consumer=text(row["consumer"]),
            idle_ms=int(row["time_since_delivered"]),
            deliveries=int(row["times_delivered"]),
        )
        for row in rows
    ]


async def group_figures(redis: Redis, keys: BusKeys, *, stuck_after_ms: int = 60_000) -> list[GroupFigures]:
    """One GroupFigures per known participant, sorted by name."""
    figures = []
    for member in sorted(text(m) for m in await redis.smembers(keys.participants())):
        stream = keys.stream(member)
        try:
            groups = await redis.xinfo_groups(stream)
        except ResponseError:
            groups = []
        info = next((g for g in groups if text(g.get("name")) == keys.group(member)), None)
        if info is None:
            continue
        figures.append(
            GroupFigures(
                participant=member,
                stream=stream,
                length=int(await redis.xlen(stream)),
                consumers=int(info.get("consumers", 0)),
                pending=int(info.get("pending", 0)),
                lag=await _lag(redis, stream, info),
                delayed_retries=int(await redis.zcard(keys.delayed(member))),
                stuck=tuple(await _stuck(redis, stream, keys.group(member), stuck_after_ms)),
            )
        )
    return figures
