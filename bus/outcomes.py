"""Turn a step's outcome into one atomic commit: where the slip goes, what history says."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import RetryPolicy
from bus.entries import KIND_LABELS, Delivery, entry_fields, phase_label
from bus.errors import FailureKind, StepFailure
from bus.history import HistoryEvent, history_fields, next_step_detail
from bus.keys import BusKeys
from bus.session_notices import READ_AGAIN, as_duplicate_event, history_events, notice_body
from bus.settings import ConsumerSettings
from bus.slip import (
    COMPENSATING,
    can_compensate,
    complete_current,
    current_step,
    next_attempt,
    start_compensation,
)


@dataclass(frozen=True)
class Commit:
    """One step's part of a batch COMMIT: its five keys, its JSON item, its notices, its headline event.

    Its marker names the step: a forward or a saga's finish claims it, a retry or dead letter
    needs it unclaimed, so the script turns a commit for a step already done into a bare ack
    (and a duplicate_skipped record, which its second notice carries).
    """

    keys: list[str]
    item: list[Any]
    event: HistoryEvent
    # The bodies of the session watchers' notice, the script numbering a counted one: what the
    # commit writes when applied, and what it writes when it finds its step already done.
    notice: bytes = b""
    skipped_notice: bytes = b""
    retry_at: float | None = None  # when a retry it schedules falls due, so the consumer wakes then
    finished: SagaEnd | None = None  # the saga's last step, for its duration


@dataclass(frozen=True)
class SagaEnd:
    """How a saga ended: its kind, `completed` or `compensated`, and when it was created (epoch s)."""

    kind: str
    outcome: str
    created_at: float


@dataclass(frozen=True)
class CommitBuilder:
    """Builds commits for one partition of a participant consumer; pure apart from the values passed in.

    Every key of a commit is in the consumer's partition: the one the slip's session maps to.
    """

    keys: BusKeys
    partition: int
    participant: str
    consumer: str
    settings: ConsumerSettings

    def _commit(
        self,
        saga_id: str,
        entry_id: str,
        *,
        marker: str,
        mode: str,
        target: str,
        payload: list[str],
        history: list[list[str]],
        session_id: str,
    ) -> Commit:
        history_key = self.keys.saga_history(self.partition, saga_id)
        channel = self._changes_channel(session_id)
        # The session's counter is in its partition, which is this one unless the slip was written
        # with another partition count; then the notice goes uncounted and says to read again.
        counted = bool(channel) and self.keys.partition_of(session_id) == self.partition
        # Without a counter the fifth key is never touched; the history's stands in to keep five.
        counter = self.keys.session_notices(session_id) if counted else history_key
        notice = skipped = READ_AGAIN
        if counted:
            events = history_events(saga_id, history)
            notice = notice_body(events)
            if marker:
                skipped = notice_body([as_duplicate_event(events[0])])
        keys = [
            self.keys.saga_steps(self.partition, saga_id),
            history_key,
            self._source,
            target,
            counter,
        ]
        item = [marker, mode, entry_id, payload, history, channel, 1 if counted else 0]
        return Commit(keys, item, HistoryEvent(history[0][1]), notice=notice, skipped_notice=skipped)

    @cached_property
    def _source(self) -> str:
        """The stream the builder's partition consumer reads."""
        return self.keys.stream(self.partition, self.participant)

    def _changes_channel(self, session_id: str) -> str:
        """Where the session's watchers hear that its saga history grew; '' for no session."""
        try:
            return self.keys.session_changes(session_id) if session_id else ""
        except ValueError:  # an id no key may carry (an undecodable entry's): nobody watches it
            return ""

    def _event(
        self, slip: pb.RoutingSlip, step: pb.Step | None, event: HistoryEvent, now: float, detail: str = ""
    ) -> list[str]:
        """A history record of `slip`, whose current step is `step` (looked up once by the caller)."""
        return history_fields(
            event=event,
            at=now,
            step=step.name if step else "",
            participant=step.participant if step else "",
            phase=phase_label(slip.phase),
            attempt=slip.attempt,
            detail=detail,
            consumer=self.consumer,
        )

    def _route(
        self,
        delivery: Delivery,
        moved: pb.RoutingSlip,
        following: pb.Step | None,
        history: list[list[str]],
        now: float,
    ) -> Commit:
        """Forward `moved` to its next participant (its current step, `following`), or close the saga
        if nothing is left."""
        slip = delivery.slip
        end = None
        if following is None:
            done = (
                HistoryEvent.SAGA_COMPENSATED if moved.phase == COMPENSATING else HistoryEvent.SAGA_COMPLETED
            )
            history.append(self._event(moved, None, done, now, moved.failure_reason))
            target, mode, payload = self.keys.saga_history(self.partition, slip.saga_id), "finish", []
            outcome = "compensated" if done == HistoryEvent.SAGA_COMPENSATED else "completed"
            end = SagaEnd(KIND_LABELS.get(slip.kind, "unspecified"), outcome, slip.create_time.ToSeconds())
        else:
            target, mode = self.keys.stream(self.partition, following.participant), "forward"
            payload = entry_fields(moved, now)
        commit = self._commit(
            slip.saga_id, delivery.entry_id, marker=delivery.marker, mode=mode,
            target=target, payload=payload, history=history, session_id=slip.session_id,
        )  # fmt: skip
        return replace(commit, finished=end) if end else commit

    def completed(self, delivery: Delivery, undo: Mapping[str, str] | None, now: float) -> Commit:
        moved = complete_current(delivery.slip, undo, _utc(now))
        # Names the step the saga waits for next, so a saga that stops here says where it stopped.
        following = current_step(moved)
        detail = next_step_detail(following.name, following.participant) if following else ""
        history = [self._event(delivery.slip, delivery.step, HistoryEvent.COMPLETED, now, detail)]
        return self._route(delivery, moved, following, history, now)

    def refused(
        self,
        delivery: Delivery,
        reason: str,
        now: float,
        refusal_reason: pb.RefusalReason.ValueType = pb.REFUSAL_REASON_UNSPECIFIED,
        failure: StepFailure | None = None,
    ) -> Commit:
        slip = delivery.slip
        if not can_compensate(slip):
            why = "compensation cannot refuse" if slip.phase == COMPENSATING else "past the pivot"
            return self.dead(delivery, f"refused ({why}): {reason}", now, failure=failure)
        moved = start_compensation(slip, reason, _utc(now), refusal_reason)
        following = current_step(moved)
        history = [
            self._event(slip, delivery.step, HistoryEvent.REFUSED, now, reason),
            self._event(moved, following, HistoryEvent.COMPENSATING, now, f"{len(moved.itinerary)} steps"),
        ]
        return self._route(delivery, moved, following, history, now)

    def failed(
        self, delivery: Delivery, failure: StepFailure, policy: RetryPolicy, now: float, random_unit: float
    ) -> Commit:
        """A failed attempt: schedule a retry in the delay set, or dead-letter once `policy` is spent.

        A transient failure counts every failed attempt of the step; an unexpected one only the
        attempts that raised something undeclared, against its own budget.
        """
        slip = delivery.slip
        unexpected = failure.kind == FailureKind.UNEXPECTED
        failures = (slip.unexpected_failures if unexpected else slip.attempt) + 1
        if policy.exhausted(failures):
            if unexpected:
                error = f"unexpected {failure} after {failures} attempts"
            else:
                error = f"retry budget spent after {failures} attempts: {failure}"
            return self.dead(delivery, error, now, failure=failure)
        delay = policy.delay(failures, random_unit)
        retried = next_attempt(slip, _utc(now), unexpected=unexpected)
        due = now + delay
        member = json.dumps(entry_fields(retried, due), separators=(",", ":"))
        detail = f"{'unexpected ' if unexpected else ''}{failure}; retry in {delay:.3f}s"
        commit = self._commit(
            slip.saga_id, delivery.entry_id, marker=delivery.marker, mode="retry",
            target=self.keys.delayed(self.partition, self.participant),
            payload=[str(int(due * 1000)), member],
            history=[self._event(slip, delivery.step, HistoryEvent.RETRY_SCHEDULED, now, detail)],
            session_id=slip.session_id,
        )  # fmt: skip
        return replace(commit, retry_at=due)

    def dead(
        self,
        delivery: Delivery,
        error: str,
        now: float,
        deliveries: int = 0,
        failure: StepFailure | None = None,
    ) -> Commit:
        payload = [
            *entry_fields(delivery.slip, delivery.sent_at),
            *self._dead_fields(delivery.entry_id, error, deliveries, now, failure),
        ]
        return self._commit(
            delivery.slip.saga_id, delivery.entry_id, marker=delivery.marker, mode="dead",
            target=self.keys.dead_letters(self.partition), payload=payload,
            history=[self._event(delivery.slip, delivery.step, HistoryEvent.DEAD_LETTERED, now, error)],
            session_id=delivery.slip.session_id,
        )  # fmt: skip

    def dead_raw(self, entry_id: str, fields: Mapping[str, str], error: str, now: float) -> Commit:
        """Dead-letter an entry whose slip cannot even be read."""
        saga_id = fields.get("saga_id", "")
        if not saga_id or any(c in saga_id for c in "{}: \n"):
            saga_id = "undecodable"
        payload = [x for kv in fields.items() for x in kv]
        payload += self._dead_fields(entry_id, error, 0, now)
        history = history_fields(
            event=HistoryEvent.DEAD_LETTERED, at=now, step=fields.get("step", ""),
            participant=self.participant, detail=error, consumer=self.consumer,
        )  # fmt: skip
        return self._commit(
            saga_id, entry_id, marker="", mode="dead", target=self.keys.dead_letters(self.partition),
            payload=payload, history=[history], session_id=fields.get("session_id", ""),
        )  # fmt: skip

    def skipped(self, commit: Commit) -> Commit:
        """`commit` as the script applied it when it found its step already done."""
        return replace(commit, event=HistoryEvent.DUPLICATE_SKIPPED, retry_at=None, finished=None)

    def duplicate(self, delivery: Delivery, now: float) -> Commit:
        """The step was applied before: ack only, and say so in the history."""
        return self._commit(
            delivery.slip.saga_id, delivery.entry_id, marker="", mode="ack",
            target=self.keys.saga_history(self.partition, delivery.slip.saga_id),
            payload=[],
            history=[self._event(delivery.slip, delivery.step, HistoryEvent.DUPLICATE_SKIPPED, now)],
            session_id=delivery.slip.session_id,
        )  # fmt: skip

    def _dead_fields(
        self, entry_id: str, error: str, deliveries: int, now: float, failure: StepFailure | None = None
    ) -> list[str]:
        fields = [
            "participant", self.participant,
            "source_id", entry_id,
            "error", error,
            "deliveries", str(deliveries),
            "dead_at_ms", str(int(now * 1000)),
        ]  # fmt: skip
        if failure is not None:
            # Plain fields, so XRANGE and the tooling show what the step raised without parsing.
            fields += ["failure_kind", failure.kind.value, "error_type", failure.error_type,
                       "error_message", failure.message]  # fmt: skip
        return fields


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, tz=UTC)
