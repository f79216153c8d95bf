"""Reserve attempts not yet settled: a hold may exist at a provider that no session item points to. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

_SEPARATOR = "|"


@dataclass(frozen=True)
class ReserveAttempt:
    """A reserve request of `participant` for a session, from just before its first provider hold
    until its holds are attached or released."""

    session_id: str
    participant: str
    attempt_id: str
    started_ms: int

    @property
    def field(self) -> str:
        return f"{self.participant}{_SEPARATOR}{self.attempt_id}"


def attempts_of(session_id: str, fields: Mapping[str, str]) -> list[ReserveAttempt]:
    """The attempts a session's record keeps (`<participant>|<attempt>` -> start in ms)."""
    found = []
    for field, started in fields.items():
        participant, _, attempt_id = field.partition(_SEPARATOR)
        found.append(ReserveAttempt(session_id, participant, attempt_id, int(started)))
    return found


def started_before(attempts: Iterable[ReserveAttempt], cutoff_ms: int) -> list[ReserveAttempt]:
    """Those started before `cutoff_ms`: whatever hold they made has reached the provider by now."""
    return [attempt for attempt in attempts if attempt.started_ms < cutoff_ms]


def participants_of(attempts: Iterable[ReserveAttempt]) -> set[str]:
    return {attempt.participant for attempt in attempts}


class AttemptLog(Protocol):
    """Where a reserve says it may leave a hold behind, and a confirm step asks whether one did."""

    async def record(self, session_id: str, participant: str) -> ReserveAttempt:
        """Written before the provider is asked for a hold; raises a TransientError when it cannot be."""
        ...

    async def settle(self, attempt: ReserveAttempt) -> None:
        """The attempt's holds are attached or released; a failure to say so is logged, not raised
        (a record left behind costs one listing of the session's holds later, nothing more)."""
        ...

    async def unsettled(self, session_id: str, participant: str) -> Sequence[ReserveAttempt]:
        """The session's attempts at `participant` still recorded; empty for a normal booking."""
        ...
