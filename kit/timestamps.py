"""Datetimes to and from protobuf Timestamps, always in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def stamp(target: Timestamp, value: datetime) -> None:
    """`target.FromDatetime(value)` (a naive `value` taken as UTC) in integer arithmetic, a third of
    its cost: FromDatetime builds a time tuple, and every message a booking sends carries several."""
    since = value - (_EPOCH if value.tzinfo is not None else _NAIVE_EPOCH)
    target.seconds = since.days * 86_400 + since.seconds
    target.nanos = since.microseconds * 1000


def timestamp(value: datetime) -> Timestamp:
    made = Timestamp()
    stamp(made, value)
    return made


@lru_cache(maxsize=65536)
def timestamp_text(seconds: int, nanos: int) -> str:
    """The RFC 3339 text protobuf JSON gives a Timestamp. Cached: the same times (a slip's, a
    session's) are printed again on every hop and frame, and the conversion is slow."""
    return str(Timestamp(seconds=seconds, nanos=nanos).ToJsonString())


def utc_datetime(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)
