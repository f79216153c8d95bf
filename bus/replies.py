"""Defensive parsing of stream replies: RESP2 lists, RESP3 maps, Redis 6.2 and 7 shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import ResponseError

Entry = tuple[str, dict[str, str] | None]


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None  # entry deleted (trimmed or XDEL) while still pending
    if isinstance(raw, dict):
        # A client decoding replies gives str throughout: the dict redis-py made is kept as is.
        for key, value in raw.items():
            if type(key) is str and type(value) is str:
                return raw
            break
    if isinstance(raw, Mapping):
        return {text(k): text(v) for k, v in raw.items()}
    items = list(raw)
    return {text(items[i]): text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def parse_entries(raw: Any) -> list[Entry]:
    """A list of stream entries, each (id, fields) or (id, None) or a bare None (6.2 claim)."""
    entries: list[Entry] = []
    for item in raw or []:
        if item is None:
            continue
        entries.append((text(item[0]), _fields(item[1] if len(item) > 1 else None)))
    return entries


def parse_read_reply(reply: Any) -> list[Entry]:
    """XREADGROUP reply for one stream: RESP2 [[stream, entries]] or RESP3 {stream: entries}."""
    return [entry for entries in parse_read_reply_by_stream(reply).values() for entry in entries]


def parse_read_reply_by_stream(reply: Any) -> dict[str, list[Entry]]:
    """XREADGROUP reply for one or more streams, as each stream's entries."""
    if not reply:
        return {}
    if isinstance(reply, Mapping):
        streams: dict[str, list[Entry]] = {}
        for stream, value in reply.items():
            # RESP3 through redis-py nests the entry list once more: {stream: [entries]}.
            if value and isinstance(value[0], list) and value[0] and isinstance(value[0][0], tuple | list):
                value = value[0]
            streams.setdefault(text(stream), []).extend(parse_entries(value))
        return streams
    streams = {}
    for stream_and_entries in reply:
        streams.setdefault(text(stream_and_entries[0]), []).extend(parse_entries(stream_and_entries[1]))
    return streams


def parse_autoclaim_reply(reply: Any) -> tuple[str, list[Entry], list[str]]:
    """XAUTOCLAIM reply: 6.2 gives [cursor, entries]; 7+ adds deleted ids as a third part."""
    cursor = text(reply[0])
    entries = parse_entries(reply[1]) if len(reply) > 1 else []
    deleted = [text(i) for i in reply[2]] if len(reply) > 2 and reply[2] else []
    return cursor, entries, deleted


def parse_delivery_counts(reply: Sequence[Any]) -> dict[str, int]:
    """XPENDING extended form (redis-py dicts or raw lists) -> entry id: times delivered."""
    counts: dict[str, int] = {}
    for row in reply or []:
        if isinstance(row, Mapping):
            counts[text(row["message_id"])] = int(row["times_delivered"])
        else:
            counts[text(row[0])] = int(row[3])
    return counts


def entry_id_key(entry_id: str) -> tuple[int, int]:
    """Sortable form of a stream id."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def next_entry_id(entry_id: str) -> str:
    """Smallest id strictly after `entry_id`."""
    millis, sequence = entry_id_key(entry_id)
    return f"{millis}-{sequence + 1}"


def group_lost(error: ResponseError) -> bool:
    """The group, or its stream, is gone: deleted or lost (a flush, a restart, a failover); a read
    blocked meanwhile is told UNBLOCKED."""
    return "NOGROUP" in str(error) or "UNBLOCKED" in str(error)
