"""The session store's contract, held by the in-memory fake and the table adapter on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kit.database import Connection
from kit.errors import Conflict, ResourceExhausted
from services.sessions import domain
from services.sessions.domain import FlightLeg, HotelStay, Money, RoundTrip, Session, State
from services.sessions.open_limit import COUNTED_AS_OPEN, OpenSessions
from services.sessions.ports import Change, SessionStore
from services.sessions.reconciliation import Unfinished
from services.sessions.repository import SessionRepository, metadata
from tests.fakes.session_store import FakeSessionStore
from tests.support.databases import drop_schema, new_schema, opened_database

T0 = datetime(2031, 3, 1, 12, 0, 0, 123_456, tzinfo=UTC)
TTL = timedelta(minutes=10)
STAY = HotelStay("hold-h", "HTL-LIS-01", "Grand", "LIS", "2031-04-01", "2031-04-03", 2, Money(24_000, "EUR"))
TRIP = RoundTrip(
    FlightLeg("hold-o", "FL-LIS-MAD", "TA 101", "LIS", "MAD", T0 + timedelta(days=30), Money(9_000, "EUR")),
    FlightLeg("hold-r", "FL-MAD-LIS", "TA 102", "MAD", "LIS", T0 + timedelta(days=32), Money(8_000, "EUR")),
    2,
)


class Committed:
    """What the store told its listener after each commit."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, changes: Sequence[Change]) -> None:
        self.batches.append([change.session.id for change in changes])


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SessionStore, Committed]]:
    committed = Committed()
    if request.param == "fake":
        yield FakeSessionStore(committed), committed
        return
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'sessions.sqlite3'}", None
    else:
        url, schema = request.getfixturevalue("postgres_url"), new_schema()
    async with opened_database(url, schema, "sessions", metadata) as database:
        yield SessionRepository(database, committed), committed
    if schema is not None:
        drop_schema(url, schema)


@pytest.fixture
def store(backend: tuple[SessionStore, Committed]) -> SessionStore:
    return backend[0]


def event(step: str, at: datetime = T0, saga_id: str = "") -> dict[str, object]:
    return {
        "time": at,
        "kind": "session",
        "step": step,
        "outcome": "DONE",
        "detail": step,
        "saga_id": saga_id,
    }


def never_refuse(_: OpenSessions) -> Exception | None:
    return None


async def opened(store: SessionStore, customer: str = "", at: datetime = T0) -> Session:
    session = domain.open_session(str(uuid.uuid4()), customer or uuid.uuid4().hex, at, TTL)
    await store.insert_unless(session, [event("open", at)], COUNTED_AS_OPEN, never_refuse)
    return session


def attach(store: SessionStore, current: Session) -> Change:
    updated, _ = domain.attach(current, STAY, T0 + timedelta(seconds=1))
    return Change(updated, current.version, [event("attach.hotel", T0 + timedelta(seconds=1))])


async def test_a_session_reads_back_as_it_was_written_items_and_all(store: SessionStore) -> None:
    session = await opened(store)
    with_stay, _ = domain.attach(session, STAY, T0)
    full, _ = domain.attach(with_stay, TRIP, T0)
    await store.transition(session.id, lambda found: (Change(full, session.version), None))
    assert await store.get(session.id) == full
    assert await store.get(str(uuid.uuid4())) is None


async def test_get_many_finds_the_sessions_that_exist(store: SessionStore) -> None:
    first, second = await opened(store), await opened(store)
    found = await store.get_many([first.id, str(uuid.uuid4()), second.id])
    assert sorted(s.id for s in found) == sorted([first.id, second.id])
    assert await store.get_many([]) == []


async def test_a_transition_decides_on_what_is_stored_and_writes_it_with_its_events(
    backend: tuple[SessionStore, Committed],
) -> None:
    store, committed = backend
    session = await opened(store)
    seen: list[Session | None] = []

    def decide(found: Session | None) -> tuple[Change, str]:
        seen.append(found)
        assert found is not None
        return attach(store, found), "answer"

    assert await store.transition(session.id, decide) == "answer"
    assert seen == [session]
    stored = await store.get(session.id)
    assert stored is not None and stored.version == 1 and stored.hotel == STAY
    assert [e.step for e in await store.events(session.id)] == ["open", "attach.hotel"]
    assert committed.batches == [[session.id]]


async def test_a_change_over_a_version_moved_on_is_a_conflict_and_leaves_nothing(
    backend: tuple[SessionStore, Committed],
) -> None:
    store, committed = backend
    session = await opened(store)
    await store.transition(session.id, lambda found: (attach(store, session), None))
    stale = Change(domain.customer_cancel(session, T0), session.version, [event("cancel")])
    with pytest.raises(Conflict):
        await store.transition(session.id, lambda found: (stale, None))
    stored = await store.get(session.id)
    assert stored is not None and stored.state is State.OPEN and stored.version == 1
    assert [e.step for e in await store.events(session.id)] == ["open", "attach.hotel"]
    assert committed.batches == [[session.id]]


async def test_writes_run_in_the_transaction_and_a_failing_one_rolls_it_back(
    backend: tuple[SessionStore, Committed],
) -> None:
    store, committed = backend
    session = await opened(store)
    ran: list[str] = []

    def recorded(conn: Connection) -> None:
        ran.append("outbox row")

    def failing(conn: Connection) -> None:
        raise RuntimeError("the outbox insert failed")

    broken = attach(store, session)
    broken = Change(broken.session, broken.expected_version, broken.events, [recorded, failing])
    with pytest.raises(RuntimeError):
        await store.transition(session.id, lambda found: (broken, None))
    assert await store.get(session.id) == session
    assert [e.step for e in await store.events(session.id)] == ["open"]
    assert committed.batches == []
    good = attach(store, session)
    await store.transition(session.id, lambda found: (Change(good.session, 0, good.events, [recorded]), None))
    assert ran == ["outbox row", "outbox row"]  # the first ran, then rolled back with its transaction
    assert committed.batches == [[session.id]]


async def test_deciding_no_change_writes_nothing_and_tells_nobody(
    backend: tuple[SessionStore, Committed],
) -> None:
    store, committed = backend
    session = await opened(store)
    assert await store.transition(session.id, lambda found: (None, found)) == session
    missing = str(uuid.uuid4())
    assert await store.transition(missing, lambda found: (None, found)) is None
    assert committed.batches == []


async def test_a_change_for_a_session_that_does_not_exist_is_a_conflict(store: SessionStore) -> None:
    ghost = domain.open_session(str(uuid.uuid4()), "c", T0, TTL)
    with pytest.raises(Conflict):
        await store.transition(ghost.id, lambda found: (attach(store, ghost), None))
    assert await store.get(ghost.id) is None


async def test_owner_and_creation_time_are_never_rewritten(store: SessionStore) -> None:
    session = await opened(store)
    updated, _ = domain.attach(session, STAY, T0)
    forged = Change(
        Session(**{**updated.__dict__, "customer_id": "intruder", "created_at": T0 + timedelta(days=1)}), 0
    )
    await store.transition(session.id, lambda found: (forged, None))
    stored = await store.get(session.id)
    assert stored is not None and stored.version == 1
    assert (stored.customer_id, stored.created_at) == (session.customer_id, session.created_at)


async def test_transition_many_writes_all_or_none(backend: tuple[SessionStore, Committed]) -> None:
    store, committed = backend
    first, second = await opened(store), await opened(store)
    late = T0 + TTL + timedelta(seconds=1)

    def expire_all(found: list[Session]) -> tuple[list[Change], list[str]]:
        changes = []
        for current in found:
            expired = domain.expire(current, late)
            assert expired is not None
            changes.append(Change(expired, current.version, [event("expire", late)]))
        return changes, sorted(c.session.id for c in changes)

    await store.transition(second.id, lambda found: (attach(store, second), None))
    committed.batches.clear()

    def stale(found: list[Session]) -> tuple[list[Change], None]:
        changes, _ = expire_all(found)
        # The second session's change is over the version before its attach.
        return [Change(c.session, 0, c.events) for c in changes], None

    with pytest.raises(Conflict):
        await store.transition_many([first.id, second.id], stale)
    assert [s.state for s in await store.get_many([first.id, second.id])] == [State.OPEN, State.OPEN]
    assert committed.batches == []
    expired = await store.transition_many([first.id, second.id, str(uuid.uuid4())], expire_all)
    assert expired == sorted([first.id, second.id])
    assert {s.state for s in await store.get_many([first.id, second.id])} == {State.CANCELLING}
    assert sorted(committed.batches[0]) == sorted([first.id, second.id]) and len(committed.batches) == 1
    assert [e.step for e in await store.events(first.id)] == ["open", "expire"]


async def test_insert_unless_counts_the_customers_open_sessions_and_may_refuse(store: SessionStore) -> None:
    customer = uuid.uuid4().hex
    early = await opened(store, customer, T0)
    await opened(store, customer, T0 + timedelta(minutes=1))
    done = await opened(store, customer, T0 - timedelta(minutes=1))
    await store.transition(done.id, lambda found: (Change(domain.customer_cancel(done, T0), 0), None))
    await opened(store)  # another customer's
    shown: list[OpenSessions] = []

    def refuse(current: OpenSessions) -> Exception | None:
        shown.append(current)
        return ResourceExhausted("too many", retry_after_seconds=1)

    refused = domain.open_session(str(uuid.uuid4()), customer, T0, TTL)
    with pytest.raises(ResourceExhausted):
        await store.insert_unless(refused, [event("open")], {State.OPEN}, refuse)
    assert shown == [OpenSessions(count=2, earliest_deadline=early.expires_at)]
    assert await store.get(refused.id) is None
    assert await store.events(refused.id) == []

    def admit(current: OpenSessions) -> Exception | None:
        shown.append(current)
        return None

    nobody = domain.open_session(str(uuid.uuid4()), uuid.uuid4().hex, T0, TTL)
    await store.insert_unless(nobody, [], {State.OPEN}, admit)
    assert shown[-1] == OpenSessions(count=0, earliest_deadline=None)
    assert await store.get(nobody.id) == nobody


async def test_a_customers_sessions_list_newest_first_in_pages(store: SessionStore) -> None:
    customer = uuid.uuid4().hex
    made = [await opened(store, customer, T0 + timedelta(minutes=n)) for n in range(5)]
    await opened(store)
    newest_first = [s.id for s in reversed(made)]
    assert [s.id for s in await store.list_for(customer, 2, 0)] == newest_first[:2]
    assert [s.id for s in await store.list_for(customer, 10, 2)] == newest_first[2:]
    assert await store.list_for(uuid.uuid4().hex, 10, 0) == []


# A page larger than every session a contract run stores: the whole list in one read.
EVERY = 1_000_000


async def test_non_terminal_lists_every_session_still_running_with_its_deadline(store: SessionStore) -> None:
    running, finished = await opened(store), await opened(store)
    cancelling = domain.customer_cancel(finished, T0)
    ended = domain.cancelled(cancelling, T0)
    assert ended is not None
    await store.transition(finished.id, lambda found: (Change(cancelling, 0), None))
    await store.transition(finished.id, lambda found: (Change(ended, 1), None))
    listed = {u.session_id: u for u in await store.non_terminal("", EVERY)}
    assert listed[running.id] == Unfinished(running.id, running.expires_at, State.OPEN, running.updated_at)
    assert finished.id not in listed


async def test_non_terminal_pages_through_the_unfinished_sessions_by_id(store: SessionStore) -> None:
    made = sorted([await opened(store) for _ in range(5)], key=lambda s: s.id)
    everything = [u.session_id for u in await store.non_terminal("", EVERY)]
    mine = [s.id for s in made]
    assert [sid for sid in everything if sid in mine] == mine
    first = await store.non_terminal(after=mine[0], limit=2)
    assert len(first) == 2 and all(u.session_id > mine[0] for u in first)
    assert [u.session_id for u in first] == sorted(u.session_id for u in first)
    after_last = await store.non_terminal(after=first[-1].session_id, limit=len(everything))
    assert [u.session_id for u in first + after_last] == [sid for sid in everything if sid > mine[0]]


async def test_events_read_back_in_the_order_written(store: SessionStore) -> None:
    session = await opened(store)
    later = [event(f"step-{n}", T0 - timedelta(seconds=n), saga_id=f"saga-{n}") for n in range(3)]
    await store.transition(session.id, lambda found: (Change(domain.touch(session, T0), 0, later), None))
    events = await store.events(session.id)
    assert [e.step for e in events] == ["open", "step-0", "step-1", "step-2"]
    last = events[-1]
    assert (last.kind, last.outcome, last.detail, last.saga_id) == ("session", "DONE", "step-2", "saga-2")
    assert last.time.replace(tzinfo=last.time.tzinfo or UTC) == T0 - timedelta(seconds=2)
    assert await store.events(str(uuid.uuid4())) == []
