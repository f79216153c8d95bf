"""Reserve attempts not yet settled: a hold may exist at a provider that no session item points to. Pure."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
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

    def hold_key(self, leg: str = "") -> str:
        """The idempotency key of a hold this attempt asks for: the provider keeps it on the hold and
        shows it back, so a confirm step learns which attempt made the hold it confirms."""
        key = f"{self.session_id}:{self.participant}:{self.attempt_id}"
        return f"{key}:{leg}" if leg else key


def attempt_of_hold(session_id: str, participant: str, hold_key: str) -> str | None:
    """The id of the attempt of `participant` in the session that made a hold under `hold_key`."""
    prefix = f"{session_id}:{participant}:"
    if not hold_key.startswith(prefix):
        return None
    return hold_key[len(prefix) :].split(":", 1)[0] or None


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
        """Written before the provider is asked for a hold; raises a TransientError when it cannot be.
        An attempt that attaches its holds stays recorded until the confirm step accounts for it."""
        ...

    async def settle(self, attempt: ReserveAttempt) -> None:
        """The attempt's holds are released (or were never made); a failure to say so is logged, not
        raised (a record left behind costs one listing of the session's holds later, nothing more)."""
        ...

    async def account_for(
        self, session_id: str, participant: str, attempt_ids: Collection[str]
    ) -> Sequence[ReserveAttempt]:
        """Drop the records of `attempt_ids`, whose holds a confirm step has just confirmed, and
        answer the session's other attempts at `participant`, all in one round trip: empty for a
        normal booking. Raises what the store raises."""
        ...

    async def unsettled(self, session_id: str, participant: str) -> Sequence[ReserveAttempt]:
        """The session's attempts at `participant` still recorded; empty for a normal booking."""
        ...


class LeftAttempts(Protocol):
    """The attempts a sweep finds left behind by reserves cut off, and forgets once released."""

    async def started_before(self, cutoff_ms: int) -> list[ReserveAttempt]: ...

    async def clear(self, attempts: Sequence[ReserveAttempt]) -> None: ...
