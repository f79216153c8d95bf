"""Trim a stream below the oldest entry any group still needs, so no pending entry is lost."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bus.replies import entry_id_key, next_entry_id, text


def _get(info: Any, name: str) -> Any:
    return info.get(name, info.get(name.encode())) if isinstance(info, dict) else None


async def trim_floor(redis: Redis, stream: str) -> str | None:
    """Smallest id that some group has not acknowledged or not yet read; None to keep all."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        return None  # no such stream yet
    floor: str | None = None
    for info in groups:
        if int(_get(info, "pending") or 0) > 0:
            summary = await redis.xpending(stream, text(_get(info, "name")))
            needed = text(_get(summary, "min"))
        else:
            needed = next_entry_id(text(_get(info, "last-delivered-id")))
        if floor is None or entry_id_key(needed) < entry_id_key(floor):
            floor = needed
    return floor


async def trim_stream(redis: Redis, stream: str) -> int:
    """XTRIM MINID ~ to the floor; approximate, so Redis only drops whole nodes cheaply."""
    floor = await trim_floor(redis, stream)
    if floor is None:
        return 0
    return int(await redis.xtrim(stream, minid=floor, approximate=True))
