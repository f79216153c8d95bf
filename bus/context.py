"""What a step handler receives, and the handler signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from travel.saga.v1 import saga_pb2 as pb


@dataclass(frozen=True)
class StepContext:
    """Everything a handler needs to run one step; pass `idempotency_key` to providers."""

    saga_id: str
    session_id: str
    step: str
    participant: str
    saga_kind: pb.SagaKind
    phase: pb.SlipPhase
    arguments: Mapping[str, str]
    undo_log: Sequence[pb.CompletedStep]
    idempotency_key: str
    attempt: int
    published_at: float
    entry_id: str
    # Why the saga turned to compensation (empty while going forward).
    failure_reason: str = ""

    @property
    def compensating(self) -> bool:
        return self.phase == pb.SLIP_PHASE_COMPENSATING


# A handler returns the undo data of its step (None when there is nothing to undo), or raises
# BusinessRefusal / TransientFailure.
Handler = Callable[[StepContext], Awaitable[Mapping[str, str] | None]]
