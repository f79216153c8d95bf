"""Pure routing-slip logic: build, check, advance, and turn to compensation; no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from travel.saga.v1 import saga_pb2 as pb

from bus.errors import InvalidSlip
from kit.timestamps import stamp

COMPENSATABLE = pb.STEP_KIND_COMPENSATABLE
PIVOT = pb.STEP_KIND_PIVOT
RETRIABLE = pb.STEP_KIND_RETRIABLE
FORWARD = pb.SLIP_PHASE_FORWARD
COMPENSATING = pb.SLIP_PHASE_COMPENSATING


@dataclass(frozen=True)
class StepDeclaration:
    """One declared step: its handler name, the participant that runs it, and how it is undone."""

    name: str
    participant: str
    kind: pb.StepKind.ValueType
    compensation: str = ""
    arguments: Mapping[str, str] = field(default_factory=dict)

    def to_step(self) -> pb.Step:
        return pb.Step(
            name=self.name,
            participant=self.participant,
            kind=self.kind,
            compensation=self.compensation,
            arguments=dict(self.arguments),
        )


def validate_steps(
    steps: Sequence[StepDeclaration], after_compensation: Sequence[StepDeclaration] = ()
) -> None:
    """Raise InvalidSlip unless the steps read compensatable*, pivot?, retriable*."""
    if not steps:
        raise InvalidSlip("a saga needs at least one step")
    committed_at = ""  # name of the first step that can no longer be undone
    for step in [*steps, *after_compensation]:
        if not step.name or not step.participant:
            raise InvalidSlip(f"step {step!r} needs a name and a participant")
        if step.kind not in (COMPENSATABLE, PIVOT, RETRIABLE):
            raise InvalidSlip(f"step {step.name} has no kind")
        if step.kind == COMPENSATABLE and not step.compensation:
            raise InvalidSlip(f"compensatable step {step.name} names no compensation")
        if step.kind != COMPENSATABLE and step.compensation:
            raise InvalidSlip(f"step {step.name} is not compensatable but names a compensation")
    for step in steps:
        if step.kind == COMPENSATABLE and committed_at:
            raise InvalidSlip(
                f"compensatable step {step.name} comes after {committed_at}, which cannot be undone"
            )
        if step.kind == PIVOT and committed_at:
            raise InvalidSlip(f"pivot {step.name} comes after {committed_at}: one pivot at most")
        if step.kind in (PIVOT, RETRIABLE) and not committed_at:
            committed_at = step.name
    for step in after_compensation:
        if step.kind != RETRIABLE:
            raise InvalidSlip(f"step {step.name} runs after compensation and must be retriable")


def build_slip(
    *,
    saga_id: str,
    session_id: str,
    kind: pb.SagaKind.ValueType,
    steps: Sequence[StepDeclaration],
    now: datetime,
    after_compensation: Sequence[StepDeclaration] = (),
    traceparent: str = "",
) -> pb.RoutingSlip:
    """Build a forward slip after checking the step rules."""
    if not saga_id or not session_id:
        raise InvalidSlip("a slip needs a saga id and a session id")
    if kind == pb.SAGA_KIND_UNSPECIFIED:
        raise InvalidSlip("a slip needs a saga kind")
    validate_steps(steps, after_compensation)
    slip = pb.RoutingSlip(
        saga_id=saga_id,
        session_id=session_id,
        kind=kind,
        phase=FORWARD,
        itinerary=[s.to_step() for s in steps],
        after_compensation=[s.to_step() for s in after_compensation],
        trace=pb.TraceContext(traceparent=traceparent),
    )
    stamp(slip.create_time, now)
    stamp(slip.update_time, now)
    return slip


def current_step(slip: pb.RoutingSlip) -> pb.Step | None:
    """The step to run now, or None when the saga is over."""
    return slip.itinerary[0] if slip.itinerary else None


def is_finished(slip: pb.RoutingSlip) -> bool:
    return not slip.itinerary


def step_sequence(slip: pb.RoutingSlip) -> int:
    """Position of the current step in the saga; unique per step run, stable across retries."""
    return len(slip.log)


def step_marker(slip: pb.RoutingSlip, step: pb.Step | None = None) -> str:
    """Name under which the current step's completion is recorded for duplicate detection.

    `step`: the slip's current step, when the caller has it already.
    """
    if step is None:
        step = current_step(slip)
    return f"{step_sequence(slip)}:{step.name if step else ''}"


def idempotency_key(slip: pb.RoutingSlip, step: pb.Step | None = None) -> str:
    """Key a handler passes to the services it calls: the same for every delivery of the same step.

    `step`: the slip's current step, when the caller has it already.
    """
    if step is None:
        step = current_step(slip)
    return f"{slip.saga_id}:{step.name if step else ''}"


def _copy(slip: pb.RoutingSlip, now: datetime) -> pb.RoutingSlip:
    copy = pb.RoutingSlip()
    copy.CopyFrom(slip)
    stamp(copy.update_time, now)
    return copy


def complete_current(slip: pb.RoutingSlip, undo: Mapping[str, str] | None, now: datetime) -> pb.RoutingSlip:
    """Log the current step as done with its undo data and move to the next one."""
    step = current_step(slip)
    if step is None:
        raise InvalidSlip(f"saga {slip.saga_id} has no step left to complete")
    done = _copy(slip, now)
    entry = done.log.add(
        name=step.name,
        participant=step.participant,
        kind=step.kind,
        compensation=step.compensation,
        undo=dict(undo or {}),
        phase=slip.phase,
    )
    stamp(entry.complete_time, now)
    del done.itinerary[0]
    done.attempt = 0
    done.unexpected_failures = 0
    return done


def can_compensate(slip: pb.RoutingSlip) -> bool:
    """True while going forward and before any step that cannot be undone has completed."""
    if slip.phase != FORWARD:
        return False
    return all(done.kind == COMPENSATABLE for done in slip.log if done.phase == FORWARD)


def compensation_plan(slip: pb.RoutingSlip) -> list[pb.Step]:
    """Compensations of the completed steps, newest first, then the after-compensation steps."""
    undo = [
        pb.Step(
            name=done.compensation,
            participant=done.participant,
            kind=RETRIABLE,
            arguments=dict(done.undo),
        )
        for done in reversed(slip.log)
        if done.phase == FORWARD and done.kind == COMPENSATABLE
    ]
    return [*undo, *slip.after_compensation]


def start_compensation(
    slip: pb.RoutingSlip,
    reason: str,
    now: datetime,
    refusal_reason: pb.RefusalReason.ValueType = pb.REFUSAL_REASON_UNSPECIFIED,
) -> pb.RoutingSlip:
    """Turn a forward slip around: its itinerary becomes the compensation plan; the reason goes along."""
    if not can_compensate(slip):
        raise InvalidSlip(f"saga {slip.saga_id} is past its point of no return")
    turned = _copy(slip, now)
    plan = compensation_plan(slip)
    del turned.itinerary[:]
    turned.itinerary.extend(plan)
    turned.phase = COMPENSATING
    turned.attempt = 0
    turned.unexpected_failures = 0
    turned.failure_reason = reason
    turned.refusal_reason = refusal_reason
    return turned


def next_attempt(slip: pb.RoutingSlip, now: datetime, *, unexpected: bool = False) -> pb.RoutingSlip:
    """The same slip, counting one more failed attempt of its current step (and of its bugs)."""
    retried = _copy(slip, now)
    retried.attempt = slip.attempt + 1
    if unexpected:
        retried.unexpected_failures = slip.unexpected_failures + 1
    return retried


def reset_attempts(slip: pb.RoutingSlip, now: datetime) -> pb.RoutingSlip:
    """The same slip with a fresh retry budget, e.g. when an operator replays a dead letter."""
    fresh = _copy(slip, now)
    fresh.attempt = 0
    fresh.unexpected_failures = 0
    return fresh
