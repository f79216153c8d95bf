"""A participant's consumer group as Prometheus gauges: lag, pending, oldest pending age, waiting retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from redis.asyncio import Redis

from bus.keys import BusKeys
from bus.replies import text


def _families() -> dict[str, GaugeMetricFamily]:
    labels = ["participant"]
    return {
        "lag": GaugeMetricFamily(
            "travel_bus_stream_lag",
            "Entries of the participant's stream its group has not read yet",
            labels=labels,
        ),
        "pending": GaugeMetricFamily(
            "travel_bus_pending_entries",
            "Entries read by the participant's group and not acknowledged",
            labels=labels,
        ),
        "oldest": GaugeMetricFamily(
            "travel_bus_oldest_pending_age_seconds",
            "Age of the oldest pending entry (from its stream id); 0 with none pending",
            labels=labels,
        ),
        "delayed": GaugeMetricFamily(
            "travel_bus_delayed_retries",
            "Retries the participant's group has waiting in its delay set",
            labels=labels,
        ),
    }


async def read_group_gauges(
    redis: Redis, keys: BusKeys, participant: str, clock: Callable[[], float] = time.time
) -> list[GaugeMetricFamily]:
    """One round trip: XINFO GROUPS, XPENDING and ZCARD of the delay set of every partition, summed
    (the oldest pending entry of all); a missing group reads as empty."""
    group = keys.group(participant)
    pipe = redis.pipeline(transaction=False)
    for partition in keys.all_partitions():
        stream = keys.stream(partition, participant)
        pipe.xinfo_groups(stream)
        pipe.xpending(stream, group)
        pipe.zcard(keys.delayed(partition, participant))
    replies = await pipe.execute(raise_on_error=False)
    lags: list[int] = []
    count, oldest_ms, delayed_total = 0, None, 0
    for groups, pending, delayed in zip(replies[0::3], replies[1::3], replies[2::3], strict=True):
        info: dict[str, Any] = {}
        if not isinstance(groups, Exception):
            info = next((g for g in groups if text(g.get("name")) == group), {})
        if info.get("lag") is not None:  # Redis answers no lag when it cannot tell (entries deleted)
            lags.append(int(info["lag"]))
        if isinstance(pending, dict) and pending.get("pending"):
            count += int(pending["pending"])
            first_ms = int(text(pending["min"]).split("-", 1)[0])
            oldest_ms = first_ms if oldest_ms is None else min(oldest_ms, first_ms)
        if not isinstance(delayed, Exception):
            delayed_total += int(delayed)
    families = _families()
    if lags:
        families["lag"].add_metric([participant], float(sum(lags)))
    oldest_age = 0.0 if oldest_ms is None else max(clock() - oldest_ms / 1000, 0.0)
    families["pending"].add_metric([participant], float(count))
    families["oldest"].add_metric([participant], oldest_age)
    families["delayed"].add_metric([participant], float(delayed_total))
    return list(families.values())
