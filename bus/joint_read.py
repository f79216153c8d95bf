"""Every partition of a participant on one Redis, read by one loop with one XREADGROUP over all streams."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from redis.asyncio import Redis

from bus.outcomes import Commit
from bus.partition_consumer import PartitionConsumer, apply_commits, keep_consuming
from bus.replies import parse_read_reply_by_stream
from bus.stoppable import StoppableWait

log = logging.getLogger("bus.consumer")

# What a batch's commit settles once it returns: each partition's share of the batch.
Batch = list[tuple[PartitionConsumer, list[Commit]]]


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
        # While run() consumes, a batch's commit runs in Redis as the next batch is read and handled.
        self._overlap = False
        self._unsettled: tuple[Batch, asyncio.Task[list[int]]] | None = None

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
        self._overlap = True
        try:
            with suppress_instrumentation():
                await keep_consuming(self, f"{self._group} in {len(self._consumers)} streams")
                await self._settle_sent()
        except Exception as error:
            if not self._stopping:
                raise
            # The last commit failed on the way out: its entries stay pending, redelivered later.
            log.warning("last commit of %s not confirmed: %s", self._group, error)
        finally:
            self._overlap = False
            self._abandon_sent()

    async def run_once(self) -> int:
        """One pass: each partition's due chores, then its pending re-reads, else one joint read."""
        handled = 0
        for each in self._consumers.values():
            handled += await each.chores()
        rereading = [each for each in self._consumers.values() if each.rereading]
        if rereading:
            handled += await self._settle_sent()
            return handled + sum(await asyncio.gather(*(each.reread_pending() for each in rereading)))
        if self._unsettled is not None:
            # A commit is on its way: only what the streams hold now is taken, without waiting.
            reply = await self._read(None)
            if not reply:
                handled += await self._settle_sent()
                reply = await self._read(min(each.block_ms() for each in self._consumers.values()))
        else:
            reply = await self._read(min(each.block_ms() for each in self._consumers.values()))
        return handled + await self._handle(reply)

    async def _read(self, block_ms: int | None) -> Any:
        """XREADGROUP of new entries in every stream; None when stop() cut a blocking wait short.

        Whatever Redis delivered to a read cut short stays pending in our name: reread on restart.
        """
        streams: dict[Any, Any] = dict.fromkeys(self._consumers, ">")
        group, consumer, count = self._group, self._consumer, self._count
        if block_ms is None:
            return await self._reader.xreadgroup(group, consumer, streams, count=count)
        return await self.reads.wait(
            lambda: self._reader.xreadgroup(group, consumer, streams, count=count, block=block_ms)
        )

    async def _handle(self, reply: Any) -> int:
        """Run the handlers of a read and commit it; entries whose commits were settled meanwhile.

        Under run() the batch's commit is sent and left running while the next batch is read and
        handled: the loop's CPU and Redis's run of the script overlap. Commits still go one at a
        time, in read order: the previous one is settled before the next is sent. A commit that
        fails leaves its entries pending, and the batch handled meanwhile is not committed but
        read again with them (at least once; the step markers skip what was done).
        """
        batches = [
            (self._consumers[stream], entries)
            for stream, entries in parse_read_reply_by_stream(reply).items()
            if entries and stream in self._consumers
        ]
        prepared = await asyncio.gather(
            *(each.prepare(entries, redelivered=False) for each, entries in batches)
        )
        handled = await self._settle_sent()
        batch = [(each, part) for (each, _), part in zip(batches, prepared, strict=True) if part]
        commits: list[Commit] = [commit for _, part in batch for commit in part]
        if not commits:
            return handled
        sent = apply_commits(self.redis, self._group, self._retention_ms, commits)
        if not self._overlap:
            return handled + self._settle(batch, await sent)
        self._unsettled = (batch, asyncio.ensure_future(sent))
        return handled

    async def _settle_sent(self) -> int:
        """Wait for the commit on its way, if any, and account for it; its error is raised here."""
        if self._unsettled is None:
            return 0
        batch, sent = self._unsettled
        self._unsettled = None
        return self._settle(batch, await sent)

    def _abandon_sent(self) -> None:
        """On the way out with an error: a commit still on its way may land or not; its entries
        stay pending until it does, and are redelivered if it did not."""
        if self._unsettled is not None:
            _, sent = self._unsettled
            self._unsettled = None
            if sent.done():
                if not sent.cancelled():
                    sent.exception()
            else:
                sent.cancel()

    @staticmethod
    def _settle(batch: Batch, results: list[int]) -> int:
        handled, start = 0, 0
        for each, part in batch:
            handled += each.settle(part, results[start : start + len(part)])
            start += len(part)
        return handled
