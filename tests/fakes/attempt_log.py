"""In-memory AttemptLog: the reserve attempts recorded and not yet settled, in the order recorded."""

from __future__ import annotations

import itertools
from collections.abc import Collection

from services.reservations.attempts import ReserveAttempt


class FakeAttemptLog:
    def __init__(self) -> None:
        self.open: list[ReserveAttempt] = []
        self.recorded: list[ReserveAttempt] = []
        self._ids = itertools.count(1)

    async def record(self, session_id: str, participant: str) -> ReserveAttempt:
        attempt = ReserveAttempt(session_id, participant, f"attempt-{next(self._ids)}", len(self.recorded))
        self.open.append(attempt)
        self.recorded.append(attempt)
        return attempt

    async def settle(self, attempt: ReserveAttempt) -> None:
        self.open = [other for other in self.open if other != attempt]

    async def account_for(
        self, session_id: str, participant: str, attempt_ids: Collection[str]
    ) -> list[ReserveAttempt]:
        self.open = [
            a
            for a in self.open
            if not (
                a.session_id == session_id and a.participant == participant and a.attempt_id in attempt_ids
            )
        ]
        return await self.unsettled(session_id, participant)

    async def unsettled(self, session_id: str, participant: str) -> list[ReserveAttempt]:
        return [a for a in self.open if a.session_id == session_id and a.participant == participant]
