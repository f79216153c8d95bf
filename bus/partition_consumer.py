"""One partition of a participant: reads its input stream in a group, runs handlers, commits atomically."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError

from bus.backoff import RetryPolicy
from bus.commit_metrics import count_commits
from bus.context import Handler, Step, StepContext
from bus.entries import Delivery, decode_entry
from bus.errors import BusinessRefusal, FailureKind, StepFailure, UndecodableEntry
from bus.keys import BusKeys
from bus.outcomes import Commit, CommitBuilder
from bus.replies import (
    Entry,
    entry_id_key,
    group_lost,
    parse_autoclaim_reply,
    parse_delivery_counts,
    parse_read_reply,
    text,
)
from bus.scripts import APPLIED_SCRIPT, COMMIT_SCRIPT, PROMOTE_SCRIPT, load_all
from bus.settings import ConsumerSettings
from bus.slip import COMPENSATING, idempotency_key
from bus.slip_trace import StepSource, step_scope
from bus.stoppable import StoppableWait
from bus.trimming import trim_stream
from kit import log_context
from kit.metrics import observe_step_duration
from kit.redis_connection import is_transient

# The participant consumer's logger: one name for the steps of every partition.
log = logging.getLogger("bus.consumer")


class PartitionConsumer:
    """The consumer of one partition's stream; replicas share the group named after the service."""

    def __init__(
        self,
        redis: Redis,
        reader: Redis,
        *,
        keys: BusKeys,
        partition: int,
        participant: str,
        consumer: str,
        handlers: Mapping[str, Handler],
        settings: ConsumerSettings,
        clock: Callable[[], float] = time.time,
        random_unit: Callable[[], float] = random.random,
        tracer: trace.Tracer | None = None,
    ) -> None:
        """`reader`: a client of its own for blocking reads; `tracer`: one that records, for a span
        per step, or None to continue each saga's trace spanless."""
        self.settings = settings
        self.keys = keys
        self.partition = partition
        self.participant = participant
        self.consumer = consumer
        self.handlers = dict(handlers)
        self._clock = clock
        self._random_unit = random_unit
        self._tracer = tracer
        self.redis = redis
        self._reader = reader
        self._stream = keys.stream(partition, participant)
        self._group = keys.group(participant)
        self._commits = CommitBuilder(keys, partition, participant, consumer, settings)
        self._stopping = False
        self._pending_cursor: str | None = "0"
        # Entries up to this id were in the stream when this consumer created its group.
        self._check_through: tuple[int, int] | None = None
        self._claim_cursor = "0-0"
        self._next_promote = 0.0
        self._next_claim = 0.0
        self._next_trim = 0.0
        self.reads = StoppableWait()
        self.processed = 0

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return; only a read still waiting is cut short."""
        self._stopping = True
        self.reads.stop()

    async def ensure_group(self) -> None:
        """Create the group (and stream) if missing; from id 0 so nothing published earlier is lost."""
        try:
            await self.redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
            return
        # A new group delivers what the stream already holds as new entries, though a lost group's
        # consumers may have handled them: those get the duplicate check before their handlers run.
        last = await self.redis.xrevrange(self._stream, count=1)
        if last:
            self._check_through = entry_id_key(text(last[0][0]))

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def ensure_groups(self) -> None:
        await self.ensure_group()

    def restart_pending(self) -> None:
        """Read the own pending entries again: a batch Redis delivered before a connection dropped,
        or everything delivered before the group was recreated."""
        self._pending_cursor = "0"

    async def run(self) -> None:
        """Consume until stop(): own pending entries first, then new ones; the group must exist."""
        # The loop's own reads and commits belong to no saga's trace; each step restores its own.
        with suppress_instrumentation():
            await keep_consuming(self, f"{self._group} in {self._stream}")

    async def run_once(self) -> int:
        """One pass: due retries, claims, trim, then one batch read; returns entries handled.

        The read blocks until an entry arrives or the next of those chores is due, so an idle
        consumer sleeps in Redis instead of waking on a short timer.
        """
        handled = await self.chores()
        if self.rereading:
            return handled + await self.reread_pending()
        reply = await self._read_new(self.block_ms())
        return handled + await self.process(parse_read_reply(reply), redelivered=False)

    async def chores(self) -> int:
        """The chores that are due: promote retries, claim abandoned entries, trim; entries handled.

        The claim sweep wakes an idle consumer on its own timer; the sweeps for other replicas'
        retries and for trimming that would fall due before the next claim sweep run with this one,
        a little early, rather than wake the consumer again a few seconds later.
        """
        now = self._clock()
        handled = 0
        sweeping = now >= self._next_claim
        # What falls due before the next claim sweep: that wake is the last chance to share.
        horizon = now + self.settings.claim_interval_s if sweeping else now
        if horizon >= self._next_promote:
            self._next_promote = now + self.settings.promote_interval_s
            await self.promote_due(now)
        if sweeping:
            self._next_claim = now + self.settings.claim_interval_s
            handled += await self.claim_abandoned()
        if horizon >= self._next_trim:
            self._next_trim = now + self.settings.trim_interval_s
            await trim_stream(self.redis, self._stream)
        return handled

    @property
    def rereading(self) -> bool:
        """Whether own pending entries are still to be read again (at start, after an error)."""
        return self._pending_cursor is not None

    async def reread_pending(self) -> int:
        """One batch of own pending entries, as redeliveries; entries handled."""
        reply = await self._reader.xreadgroup(
            self._group, self.consumer, {self._stream: self._pending_cursor or "0"},
            count=self.settings.batch_size,
        )  # fmt: skip
        entries = parse_read_reply(reply)
        if not entries:
            self._pending_cursor = None
            return 0
        self._pending_cursor = entries[-1][0]
        return await self.process(entries, redelivered=True)

    def block_ms(self) -> int:
        """How long the next read may wait: until the next chore is due, at most BLOCK."""
        due = min(self._next_promote, self._next_claim, self._next_trim)
        # Never 0, which would mean "forever" to Redis.
        return max(1, min(self.settings.block_ms, math.ceil((due - self._clock()) * 1000)))

    async def _read_new(self, block_ms: int) -> Any:
        """XREADGROUP of new entries; None when stop() cut the wait short.

        Whatever Redis delivered to a read cut short stays pending in our name: reread on restart.
        """
        streams: dict[Any, Any] = {self._stream: ">"}
        group, count = self._group, self.settings.batch_size
        return await self.reads.wait(
            lambda: self._reader.xreadgroup(group, self.consumer, streams, count=count, block=block_ms)
        )

    async def promote_due(self, now: float) -> int:
        """Move retries whose time has come from the delay set back into the stream."""
        keys = [self.keys.delayed(self.partition, self.participant), self._stream]
        moved, earliest_ms = await PROMOTE_SCRIPT.call(
            self.redis, keys, [int(now * 1000), self.settings.batch_size]
        )
        if float(earliest_ms) >= 0:
            self._next_promote = min(self._next_promote, float(earliest_ms) / 1000)
        return int(moved)

    async def claim_abandoned(self) -> int:
        """Take over entries another consumer left pending longer than the idle timeout."""
        reply = await self.redis.xautoclaim(
            self._stream, self._group, self.consumer,
            min_idle_time=self.settings.claim_idle_ms, start_id=self._claim_cursor,
            count=self.settings.batch_size,
        )  # fmt: skip
        cursor, entries, deleted = parse_autoclaim_reply(reply)
        self._claim_cursor = cursor
        if deleted:
            log.warning("claimed %d entries that were deleted before being handled", len(deleted))
        if entries:
            self._next_claim = 0.0  # there may be more: look again on the next pass
        return await self.process(entries, redelivered=True)

    async def process(self, entries: list[Entry], *, redelivered: bool) -> int:
        """Handle a batch and commit it in one round trip; entries handled."""
        commits = await self.prepare(entries, redelivered=redelivered)
        if not commits:
            return 0
        results = await apply_commits(self.redis, self._group, self.settings.retention_ms, commits)
        return self.settle(commits, results)

    async def prepare(self, entries: list[Entry], *, redelivered: bool) -> list[Commit]:
        """Run a batch's handlers and build its commits: drop undecodable and over-delivered
        entries, skip the steps already done among those that may have been handled before.

        `redelivered`: pending re-reads and claims. A first delivery (a read of new entries) skips
        the check: its step is almost never done already, and if it is, the commit script finds
        the step's marker, writes nothing and acks (see docs/bus.md, "Duplicates").
        """
        if not entries:
            return []
        now = self._clock()
        commits: list[Commit] = []
        deliveries: list[Delivery] = []
        for entry_id, fields in entries:
            if fields is None:
                await self.redis.xack(self._stream, self._group, entry_id)
                continue
            try:
                deliveries.append(decode_entry(entry_id, fields))
            except UndecodableEntry as error:
                commits.append(self._commits.dead_raw(entry_id, fields, str(error), now))
        if redelivered and deliveries:
            deliveries = await self._drop_over_delivered(deliveries, commits, now)
        if deliveries and (redelivered or self._handled_before_group(deliveries)):
            deliveries = await self._drop_duplicates(deliveries, commits, now)
        if deliveries:
            commits.extend(await asyncio.gather(*(self._run_step(d) for d in deliveries)))
        return commits

    def _handled_before_group(self, deliveries: list[Delivery]) -> bool:
        """Whether the batch may hold entries the stream held when this consumer created its group."""
        if self._check_through is None:
            return False
        if entry_id_key(deliveries[-1].entry_id) >= self._check_through:
            self._check_through = None  # past the watermark: later batches are all new
        return True

    def settle(self, commits: list[Commit], results: list[int]) -> int:
        """Account for a committed batch; `results` says which commits found their step done."""
        settled = []
        for commit, applied in zip(commits, results, strict=True):
            if applied:
                settled.append(commit)
                if commit.retry_at is not None:
                    self._next_promote = min(self._next_promote, commit.retry_at)
            else:
                log.info("step of entry %s was already done: duplicate skipped", commit.item[2])
                settled.append(self._commits.skipped(commit))
        count_commits(self.participant, settled)
        self.processed += len(commits)
        return len(commits)

    async def _drop_over_delivered(
        self, deliveries: list[Delivery], commits: list[Commit], now: float
    ) -> list[Delivery]:
        reply = await self.redis.xpending_range(
            self._stream, self._group, deliveries[0].entry_id, deliveries[-1].entry_id,
            len(deliveries) * 2, consumername=self.consumer,
        )  # fmt: skip
        counts = parse_delivery_counts(reply)
        kept = []
        for delivery in deliveries:
            count = counts.get(delivery.entry_id, 1)
            if count > self.settings.max_deliveries:
                error = f"delivered {count} times without being acknowledged"
                commits.append(self._commits.dead(delivery, error, now, count))
            else:
                kept.append(delivery)
        return kept

    async def _drop_duplicates(
        self, deliveries: list[Delivery], commits: list[Commit], now: float
    ) -> list[Delivery]:
        keys = [self.keys.saga_steps(self.partition, d.slip.saga_id) for d in deliveries]
        markers = [d.marker for d in deliveries]
        applied = await APPLIED_SCRIPT.call(self.redis, keys, markers)
        fresh = []
        for delivery, done in zip(deliveries, applied, strict=True):
            if int(done):
                commits.append(self._commits.duplicate(delivery, now))
            else:
                fresh.append(delivery)
        return fresh

    async def _run_step(self, delivery: Delivery) -> Commit:
        slip, step = delivery.slip, delivery.step
        assert step is not None  # decode_entry rejects finished slips
        handler = self.handlers.get(step.name)
        if handler is None or step.participant != self.participant:
            error = f"no handler for step {step.name} (participant {step.participant})"
            return self._commits.dead(delivery, error, self._clock())
        context = StepContext(
            saga_id=slip.saga_id,
            session_id=slip.session_id,
            step=step.name,
            participant=step.participant,
            saga_kind=slip.kind,
            phase=slip.phase,
            arguments=step.arguments,
            undo_log=tuple(slip.log),
            idempotency_key=idempotency_key(slip, step),
            attempt=slip.attempt,
            published_at=delivery.sent_at,
            entry_id=delivery.entry_id,
            failure_reason=slip.failure_reason,
            refusal_reason=slip.refusal_reason,
        )
        with log_context.bound(saga_id=slip.saga_id, session_id=slip.session_id, step=step.name):
            started = time.perf_counter()
            try:
                if self._tracer is None and not slip.trace.traceparent:
                    return await self._handle(handler, context, delivery)
                source = StepSource(self._stream, self._group, delivery.entry_id)
                with step_scope(slip, step, self._tracer, source):
                    return await self._handle(handler, context, delivery)
            finally:
                observe_step_duration(self.participant, step.name, time.perf_counter() - started)

    async def _handle(self, handler: Handler, context: StepContext, delivery: Delivery) -> Commit:
        """Run the handler and turn its outcome into a commit; each failure is logged here."""
        try:
            undo = await handler(context)
        except Exception as error:  # classified below: only declared failures are retried as such
            return self._failed(handler, context, delivery, error)
        log.info("step %s completed", context.step)
        return self._commits.completed(delivery, undo, self._clock())

    def _failed(self, handler: Handler, context: StepContext, delivery: Delivery, error: Exception) -> Commit:
        failure = StepFailure.of(error)
        now = self._clock()
        if isinstance(error, BusinessRefusal):
            log.info("step %s refused: %s", context.step, error)
            return self._commits.refused(delivery, str(error) or "refused", now, error.reason, failure)
        span = trace.get_current_span()
        span.record_exception(error)
        span.set_status(trace.StatusCode.ERROR, failure.error_type)
        if failure.kind == FailureKind.TRANSIENT:
            log.info("step %s failed, attempt %d: %s", context.step, context.attempt + 1, failure)
            policy = self._declared_policy(handler, context.phase)
        else:
            policy = self.settings.unexpected_retry
            if delivery.slip.unexpected_failures == 0:
                # The traceback once, when the step first raises it; later attempts say it again briefly.
                log.error(
                    "step %s raised %s, attempt %d", context.step, failure.error_type, context.attempt + 1,
                    exc_info=error,
                )  # fmt: skip
            else:
                log.warning(
                    "step %s raised %s again, attempt %d of %d", context.step, failure,
                    delivery.slip.unexpected_failures + 1, policy.max_attempts,
                )  # fmt: skip
        return self._commits.failed(delivery, failure, policy, now, self._random_unit())

    def _declared_policy(self, handler: Handler, phase: int) -> RetryPolicy:
        """The retry policy a step declares next to its handler; a bare handler's follows the phase."""
        if isinstance(handler, Step):
            return self.settings.policy(handler.retries)
        return self.settings.compensation_retry if phase == COMPENSATING else self.settings.retry


async def apply_commits(redis: Redis, group: str, retention_ms: int, commits: list[Commit]) -> list[int]:
    """Send a batch's commits in one script call; per commit, 1 if applied, 0 if its step was done.

    On one Redis the batch may span partitions; on a cluster it must stay in one partition's slot.
    On failure nothing is acked: the entries stay pending and are redelivered.
    """
    keys = [key for commit in commits for key in commit.keys]
    batch = json.dumps([commit.item for commit in commits], separators=(",", ":"))
    # Each commit's two notice bodies follow: the script publishes the one matching what it wrote.
    notices = [body for commit in commits for body in (commit.notice, commit.skipped_notice)]
    results = await COMMIT_SCRIPT.call(redis, keys, [batch, group, retention_ms, *notices])
    return [int(result) for result in results]


class ConsumingLoop(Protocol):
    """What keep_consuming drives: one pass at a time, and the ways back from a Redis error."""

    redis: Redis

    @property
    def stopping(self) -> bool: ...

    async def run_once(self) -> int: ...

    async def ensure_groups(self) -> None: ...

    def restart_pending(self) -> None: ...


async def keep_consuming(loop: ConsumingLoop, what: str) -> None:
    """Run `loop`'s passes until it stops, riding out what Redis may throw at it."""
    failures = 0
    group_missing = False
    while not loop.stopping:
        try:
            if group_missing:
                await loop.ensure_groups()
                group_missing = False
            await loop.run_once()
            failures = 0
        except Exception as error:
            if loop.stopping:
                return  # an error met on the way out after stop(): nothing more to do
            if isinstance(error, ResponseError) and group_lost(error):
                # Redis lost the group (a flush, a restart without persistence, a failover).
                log.warning("group %s missing, recreating it", what)
                group_missing = True
                loop.restart_pending()
            elif isinstance(error, NoScriptError):
                await load_all(loop.redis)
            elif is_transient(error) or isinstance(error, ReadOnlyError):
                # A batch Redis delivered before the connection dropped is pending in our name:
                # read it again rather than wait for the claim sweep.
                loop.restart_pending()
                failures += 1
                pause = min(0.05 * 2**failures, 2.0)
                log.warning("redis unavailable (%s), retrying in %.2fs", error, pause)
                await asyncio.sleep(pause)
            else:
                raise
