"""Every Redis key name the bus uses, under one namespace, with cluster hash tags."""

from __future__ import annotations

from dataclasses import dataclass


def _checked(part: str, what: str) -> str:
    if not part or any(c in part for c in "{}: \n"):
        raise ValueError(f"{what} {part!r} must be non-empty without braces, colons or spaces")
    return part


@dataclass(frozen=True)
class BusKeys:
    """Key names. A saga's keys share the hash tag {saga id}; a participant's share {participant}.

    The namespace is a plain prefix so tests and deployments never collide on one Redis.
    """

    namespace: str

    def __post_init__(self) -> None:
        _checked(self.namespace, "namespace")

    def stream(self, participant: str) -> str:
        """Input stream of a participant service."""
        return f"{self.namespace}:stream:{{{_checked(participant, 'participant')}}}"

    def delayed(self, participant: str) -> str:
        """Sorted set of retries due later (score = due time, ms); same slot as the stream."""
        return f"{self.namespace}:delayed:{{{_checked(participant, 'participant')}}}"

    def dead_letters(self) -> str:
        """One dead-letter stream for the namespace, so an operator looks in one place."""
        return f"{self.namespace}:dead-letters"

    def participants(self) -> str:
        """Set of participants that ever started a consumer, for lag reports."""
        return f"{self.namespace}:participants"

    def saga_steps(self, saga_id: str) -> str:
        """Hash of step markers: which steps of the saga were applied or published."""
        return f"{self.namespace}:saga:{{{_checked(saga_id, 'saga id')}}}:steps"

    def saga_history(self, saga_id: str) -> str:
        """Stream of the saga's step outcomes, oldest first."""
        return f"{self.namespace}:saga:{{{_checked(saga_id, 'saga id')}}}:history"

    def session_sagas(self, session_id: str) -> str:
        """Sorted set of a session's saga ids, scored by start time (ms)."""
        return f"{self.namespace}:session:{{{_checked(session_id, 'session id')}}}:sagas"

    def session_changes(self, session_id: str) -> str:
        """Pub/sub channel told each time a session, or the history of one of its sagas, changes."""
        return f"{self.namespace}:session:{{{_checked(session_id, 'session id')}}}:changes"

    def group(self, participant: str) -> str:
        """Consumer group name: one per participant service, shared by its replicas."""
        return _checked(participant, "participant")

    def pattern(self) -> str:
        """SCAN pattern matching every key of the namespace."""
        return f"{self.namespace}:*"
