"""The dead-letter watcher's decision per entry: the sessions it flags, the entries it acknowledges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bus.keys import BusKeys
from kit.errors import NotFound, TransientError
from services.sessions.attention import DeadLetterWatcher
from services.sessions.domain import Session, open_session


@dataclass
class ScriptedArbiter:
    """Answers `needs_attention` with what a test set for each session id, and records the calls."""

    answers: dict[str, Session | Exception] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def needs_attention(self, session_id: str) -> Session:
        self.asked.append(session_id)
        answer = self.answers[session_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


def watcher(arbiter: ScriptedArbiter) -> DeadLetterWatcher:
    # Redis is never touched by `flag`: it only asks the arbiter.
    return DeadLetterWatcher(None, BusKeys("unit"), arbiter, "sessions-1")  # type: ignore[arg-type]


async def test_a_dead_letter_without_a_session_is_acknowledged_without_asking() -> None:
    arbiter = ScriptedArbiter()
    assert await watcher(arbiter).flag({"saga_id": "refund-p1", "error": "gone"}) is True
    assert arbiter.asked == []


async def test_the_session_of_a_dead_letter_is_flagged_then_acknowledged() -> None:
    flagged = open_session("s1", "c1", datetime(2026, 12, 1, tzinfo=UTC), timedelta(minutes=10))
    arbiter = ScriptedArbiter({"s1": flagged})
    assert await watcher(arbiter).flag({"session_id": "s1", "error": "hotel down"}) is True
    assert arbiter.asked == ["s1"]


async def test_a_session_the_arbiter_refuses_is_acknowledged_rather_than_read_forever() -> None:
    arbiter = ScriptedArbiter({"s2": NotFound("no session s2")})
    assert await watcher(arbiter).flag({"session_id": "s2"}) is True


async def test_an_arbiter_briefly_unavailable_leaves_the_entry_pending_for_another_read() -> None:
    arbiter = ScriptedArbiter({"s3": TransientError("database busy")})
    assert await watcher(arbiter).flag({"session_id": "s3"}) is False
