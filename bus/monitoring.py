"""Figures per participant, summed over its partitions' groups: length, lag, pending, stuck entries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bus.keys import BusKeys, entry_name
from bus.replies import text

LAG_COUNT_CAP = 10_000  # on Redis 6.2 lag is counted by reading; past this it is "at least"


@dataclass(frozen=True)
class StuckEntry:
    """A pending entry idle longer than the threshold."""

    entry_id: str  # p<partition>-<id in that partition's stream>
    consumer: str
    idle_ms: int
    deliveries: int


@dataclass(frozen=True)
class GroupFigures:
    """Health of one participant's consumer groups, one per partition, taken together."""

    participant: str
    stream: str  # the partitions' stream names, as a SCAN pattern
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


async def _stuck(
    redis: Redis, partition: int, stream: str, group: str, older_than_ms: int
) -> list[StuckEntry]:
    rows = await redis.xpending_range(stream, group, "-", "+", 100, idle=older_than_ms)
    return [
        StuckEntry(
            entry_id=entry_name(partition, text(row["message_id"])),
            consumer=text(row["consumer"]),
            idle_ms=int(row["time_since_delivered"]),
            deliveries=int(row["times_delivered"]),
        )
        for row in rows
    ]


async def _partition_figures(
    redis: Redis, keys: BusKeys, participant: str, partition: int, stuck_after_ms: int
) -> GroupFigures | None:
    stream, group = keys.stream(partition, participant), keys.group(participant)
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        groups = []
    info = next((g for g in groups if text(g.get("name")) == group), None)
    if info is None:
        return None
    return GroupFigures(
        participant=participant,
        stream=stream,
        length=int(await redis.xlen(stream)),
        consumers=int(info.get("consumers", 0)),
        pending=int(info.get("pending", 0)),
        lag=await _lag(redis, stream, info),
        delayed_retries=int(await redis.zcard(keys.delayed(partition, participant))),
        stuck=tuple(await _stuck(redis, partition, stream, group, stuck_after_ms)),
    )


async def group_figures(redis: Redis, keys: BusKeys, *, stuck_after_ms: int = 60_000) -> list[GroupFigures]:
    """One GroupFigures per known participant, sorted by name; its partitions are read in parallel."""
    figures = []
    for member in sorted(text(m) for m in await redis.smembers(keys.participants())):
        found = await asyncio.gather(
            *(_partition_figures(redis, keys, member, p, stuck_after_ms) for p in keys.all_partitions())
        )
        parts = [each for each in found if each is not None]
        if not parts:
            continue
        figures.append(
            GroupFigures(
                participant=member,
                stream=keys.every_partition(keys.stream(0, member)),
                length=sum(each.length for each in parts),
                # Every replica reads every partition: the busiest group counts them all.
                consumers=max(each.consumers for each in parts),
                pending=sum(each.pending for each in parts),
                lag=sum(each.lag for each in parts),
                delayed_retries=sum(each.delayed_retries for each in parts),
                stuck=tuple(entry for each in parts for entry in each.stuck),
            )
        )
    return figures
