"""The arbiter in process: the real use cases and message mapping over the in-memory session store."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from travel.sessions.v1 import sessions_pb2 as pb

from services.sessions.arbiter import Arbiter
from services.sessions.events import SessionTimeline
from services.sessions.servicer import SessionsServicer
from tests.fakes.deadline_schedule import FakeDeadlineSchedule
from tests.fakes.saga_starter import RecordingSagaStarter
from tests.fakes.session_store import FakeSessionStore


async def _no_saga_history(_session_id: str) -> Mapping[str, Sequence[Any]]:
    return {}


class FakeSessionArbiter:
    """Answers as the sessions service does over gRPC; `fail_next` makes one call fail instead."""

    def __init__(self, ttl: timedelta = timedelta(minutes=10), now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)
        self.store = FakeSessionStore()
        self.sagas = RecordingSagaStarter()
        self.deadlines = FakeDeadlineSchedule()
        self.arbiter = Arbiter(
            repository=self.store,
            sagas=self.sagas,
            deadlines=self.deadlines,
            clock=lambda: self.now,
            new_id=lambda: str(uuid.uuid4()),
            ttl=ttl,
        )
        self._servicer = SessionsServicer(self.arbiter, SessionTimeline(self.store, _no_saga_history))
        self._failures: dict[str, Exception] = {}
        self.calls: list[str] = []

    async def open_session(self, customer_id: str) -> str:
        return (await self.arbiter.open(customer_id)).id

    def advance(self, by: timedelta) -> None:
        self.now += by

    def fail_next(self, method: str, error: Exception) -> None:
        """The next call of `method` (e.g. "attach") raises `error` without reaching the arbiter."""
        self._failures[method] = error

    def _called(self, method: str) -> None:
        self.calls.append(method)
        failure = self._failures.pop(method, None)
        if failure is not None:
            raise failure

    async def authorize_item_change(self, session_id: str, customer_id: str) -> pb.Session:
        self._called("authorize_item_change")
        request = pb.AuthorizeItemChangeRequest(session_id=session_id, customer_id=customer_id)
        return (await self._servicer.AuthorizeItemChange(request, None)).session

    async def attach(self, session_id: str, customer_id: str, item: pb.Item) -> pb.AttachItemResponse:
        self._called("attach")
        request = pb.AttachItemRequest(session_id=session_id, customer_id=customer_id, item=item)
        return await self._servicer.AttachItem(request, None)

    async def begin_checkout(self, session_id: str, customer_id: str) -> pb.Session:
        self._called("begin_checkout")
        request = pb.BeginCheckoutRequest(session_id=session_id, customer_id=customer_id)
        return (await self._servicer.BeginCheckout(request, None)).session

    async def reopen_checkout(self, session_id: str) -> pb.Session:
        self._called("reopen_checkout")
        request = pb.ReopenCheckoutRequest(session_id=session_id)
        return (await self._servicer.ReopenCheckout(request, None)).session

    async def record_payment(self, request: pb.RecordPaymentRequest) -> pb.RecordPaymentResponse:
        self._called("record_payment")
        return await self._servicer.RecordPayment(request, None)

    async def expire_many(self, session_ids: Sequence[str]) -> list[str]:
        self._called("expire_many")
        request = pb.ExpireSessionsRequest(session_ids=list(session_ids))
        return list((await self._servicer.ExpireSessions(request, None)).expired_session_ids)
