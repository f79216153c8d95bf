"""What a step handler receives, the handler signature, and a step declared with its retry policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from travel.saga.v1 import saga_pb2 as pb

from bus.backoff import Retries


@dataclass(frozen=True)
class StepContext:
    """Everything a handler needs to run one step; pass `idempotency_key` on to remote calls."""

    saga_id: str
    session_id: str
    step: str
    participant: str
    saga_kind: pb.SagaKind.ValueType
    phase: pb.SlipPhase.ValueType
    arguments: Mapping[str, str]
    undo_log: Sequence[pb.CompletedStep]
    idempotency_key: str
    attempt: int
    published_at: float
    entry_id: str
    # Why the saga turned to compensation (empty while going forward): for people, and typed.
    failure_reason: str = ""
    refusal_reason: pb.RefusalReason.ValueType = pb.REFUSAL_REASON_UNSPECIFIED

    @property
    def compensating(self) -> bool:
        return self.phase == pb.SLIP_PHASE_COMPENSATING


# A handler returns the undo data of its step (None when there is nothing to undo), or raises
# BusinessRefusal / TransientFailure; anything else it raises is a bug.
Handler = Callable[[StepContext], Awaitable[Mapping[str, str] | None]]


@dataclass(frozen=True)
class Step:
    """A handler with the retry policy it declares; itself a handler, so it registers as one.

    A bare handler gets the consumer's default for the slip's phase instead.
    """

    run: Handler
    retries: Retries

    async def __call__(self, context: StepContext) -> Mapping[str, str] | None:
        return await self.run(context)
