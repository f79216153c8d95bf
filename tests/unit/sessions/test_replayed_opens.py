"""CreateSession with a request id: a retry answers the session first opened, as opened; never a second."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kit.errors import InvalidArgument
from kit.request_ids import KEPT_FOR, RequestKey
from services.sessions.arbiter import Arbiter
from services.sessions.domain import State
from tests.fakes.deadline_schedule import FakeDeadlineSchedule
from tests.fakes.saga_starter import RecordingSagaStarter
from tests.fakes.session_store import FakeSessionStore

T0 = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def arbiter(store: FakeSessionStore, clock: Clock, limit: int = 5) -> Arbiter:
    return Arbiter(
        store, RecordingSagaStarter(), FakeDeadlineSchedule(), clock, lambda: str(uuid.uuid4()),
        timedelta(minutes=10), open_per_customer=limit,
    )  # fmt: skip


def key(scope: str = "ana", request_id: str = "", body: str = "create") -> RequestKey:
    return RequestKey(scope, request_id or "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f", body)


async def test_a_retry_answers_the_first_session_as_it_was_opened() -> None:
    store, clock = FakeSessionStore(), Clock()
    sessions = arbiter(store, clock)
    first = await sessions.open("ana", key())
    clock.now += timedelta(seconds=5)
    await sessions.customer_cancel(first.id, "ana")  # changed since: the answer is still the first one
    again = await sessions.open("ana", key())
    assert again == first
    assert again.state is State.OPEN
    assert len(await store.list_for("ana", 10, 0)) == 1


async def test_a_retry_is_not_refused_by_the_open_limit_its_first_call_used_up() -> None:
    store, clock = FakeSessionStore(), Clock()
    sessions = arbiter(store, clock, limit=1)
    first = await sessions.open("ana", key())
    assert (await sessions.open("ana", key())).id == first.id


async def test_request_ids_of_different_customers_never_collide() -> None:
    store, clock = FakeSessionStore(), Clock()
    sessions = arbiter(store, clock)
    ana = await sessions.open("ana", key("ana"))
    bo = await sessions.open("bo", key("bo"))
    assert ana.id != bo.id and bo.customer_id == "bo"


async def test_without_a_request_id_every_call_opens_a_session() -> None:
    store, clock = FakeSessionStore(), Clock()
    sessions = arbiter(store, clock)
    assert (await sessions.open("ana")).id != (await sessions.open("ana")).id


async def test_a_request_id_reused_for_another_request_is_refused() -> None:
    store, clock = FakeSessionStore(), Clock()
    sessions = arbiter(store, clock)
    await sessions.open("ana", key(body="create"))
    with pytest.raises(InvalidArgument):
        await sessions.open("ana", key(body="something else"))


async def test_after_a_day_the_request_id_opens_anew() -> None:
    store, clock = FakeSessionStore(), Clock()
    sessions = arbiter(store, clock)
    first = await sessions.open("ana", key())
    clock.now += KEPT_FOR
    assert (await sessions.open("ana", key())).id != first.id
