"""In-memory ReconcileBus: the sweep's lease, the scheduled deadlines, the sagas the bus keeps, attempts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from travel.saga.v1 import saga_pb2 as pb

from services.reservations.attempts import ReserveAttempt


class FakeReconcileBus:
    def __init__(self) -> None:
        self.lease: str | None = None
        self.deadlines: dict[str, int] = {}
        self.claimed: set[str] = set()
        self.sagas: set[str] = set()
        self.attempts: list[ReserveAttempt] = []
        self.started: list[pb.RoutingSlip] = []

    async def take_lease(self, token: str, ttl_ms: int) -> bool:
        # The lease never runs out by itself here: a test lets it go with `expire_lease`.
        if self.lease is not None:
            return False
        self.lease = token
        return True

    def expire_lease(self) -> None:
        self.lease = None

    async def holds_lease(self, token: str) -> bool:
        return self.lease == token

    async def scheduled(self, session_ids: Sequence[str]) -> set[str]:
        return {sid for sid in session_ids if sid in self.deadlines or sid in self.claimed}

    async def restore_deadlines(self, deadlines: dict[str, int]) -> None:
        for session_id, deadline_ms in deadlines.items():
            self.deadlines[session_id] = min(deadline_ms, self.deadlines.get(session_id, deadline_ms))

    async def remembered(self, sagas: Mapping[str, str]) -> set[str]:
        return {saga_id for saga_id in sagas if saga_id in self.sagas}

    async def attempts_started_before(self, cutoff_ms: int) -> list[ReserveAttempt]:
        return [attempt for attempt in self.attempts if attempt.started_ms < cutoff_ms]

    async def start_saga(self, slip: pb.RoutingSlip) -> None:
        self.started.append(slip)

    async def forget_attempts(self, attempts: Sequence[ReserveAttempt]) -> None:
        self.attempts = [attempt for attempt in self.attempts if attempt not in attempts]
