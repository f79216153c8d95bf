"""Every partition of a participant on one Redis, read by one loop with one XREADGROUP over all streams."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from redis.asyncio import Redis

from bus.outcomes import Commit
from bus.partition_consumer import PartitionConsumer, apply_commits, keep_consuming
from bus.replies import parse_read_reply_by_stream
from bus.stoppable import StoppableWait


class JointRead:
    """One loop for the partitions of a participant on one (non-cluster) Redis.

    A loop per partition would block in a read of its own and commit alone, so at a given rate
    each batch is smaller and the loops wait on one another's round trips. Here one XREADGROUP
    names every partition's stream (COUNT applies per stream), the handlers of the whole read run
    together, and the commits of every partition go in one script call: on one Redis a script's
    keys may span slots. Each partition keeps its own group, pending re-reads, claims, retries and
    trimming; the loop runs whichever of those chores are due before it reads.
    """

    def __init__(self, redis: Redis, reader: Redis, consumers: Sequence[PartitionConsumer]) -> None:
        """`reader`: a client of its own for the blocking read."""
        self.redis = redis
        self._reader = reader
        self._consumers = {each.stream: each for each in consumers}
        first = consumers[0]
        self._group, self._consumer = first.keys.group(first.participant), first.consumer
        self._count = first.settings.batch_size
        self._retention_ms = first.settings.retention_ms
        self._stopping = False
        self.reads = StoppableWait()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Finish the current batch and return; only a read still waiting is cut short."""
        self._stopping = True
        self.reads.stop()

    async def ensure_groups(self) -> None:
        await asyncio.gather(*(each.ensure_group() for each in self._consumers.values()))

    def restart_pending(self) -> None:
        for each in self._consumers.values():
            each.restart_pending()

    async def run(self) -> None:
        """Consume every partition until stop(); the groups must exist."""
        with suppress_instrumentation():
            await keep_consuming(self, f"{self._group} in {len(self._consumers)} streams")

    async def run_once(self) -> int:
        """One pass: each partition's due chores, then its pending re-reads, else one joint read."""
        handled = 0
        for each in self._consumers.values():
            handled += await each.chores()
        rereading = [each for each in self._consumers.values() if each.rereading]
        if rereading:
            return handled + sum(await asyncio.gather(*(each.reread_pending() for each in rereading)))
        block_ms = min(each.block_ms() for each in self._consumers.values())
        return handled + await self._read_new(block_ms)

    async def _read_new(self, block_ms: int) -> int:
        streams: dict[Any, Any] = dict.fromkeys(self._consumers, ">")
        group, consumer, count = self._group, self._consumer, self._count
        # Whatever Redis delivered to a read cut short stays pending in our name: reread on restart.
        reply = await self.reads.wait(
            lambda: self._reader.xreadgroup(group, consumer, streams, count=count, block=block_ms)
        )
        batches = [
            (self._consumers[stream], entries)
            for stream, entries in parse_read_reply_by_stream(reply).items()
            if entries and stream in self._consumers
        ]
        if not batches:
            return 0
        prepared = await asyncio.gather(
            *(each.prepare(entries, redelivered=False) for each, entries in batches)
        )
        commits: list[Commit] = [commit for part in prepared for commit in part]
        if not commits:
            return 0
        results = await apply_commits(self.redis, self._group, self._retention_ms, commits)
        handled, start = 0, 0
        for (each, _), part in zip(batches, prepared, strict=True):
            handled += each.settle(part, results[start : start + len(part)])
            start += len(part)
        return handled
