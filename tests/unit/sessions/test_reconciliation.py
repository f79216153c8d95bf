"""The reconciler's decisions (deadlines, sagas, strays to release) and its sweep on fakes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from travel.saga.v1 import saga_pb2 as pb

from kit.database import Connection
from services.reservations.attempts import ReserveAttempt
from services.sagas import definitions as saga_plans
from services.sessions import reconciliation
from services.sessions.domain import HotelStay, Money, Reason, Session, State
from services.sessions.ports import TransactionalWrite
from services.sessions.reconciler import SUMMARY_PAGE, Reconciler, ReconcilerConfig, unfinished_pages
from services.sessions.reconciliation import Redrive, Unfinished
from tests.fakes.reconcile_bus import FakeReconcileBus
from tests.fakes.session_store import FakeSessionStore

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
BOUND = timedelta(seconds=60)
STAY = HotelStay("h1", "HTL-LIS-01", "Hotel", "LIS", "2030-02-01", "2030-02-03", 2, Money(20_000, "EUR"))


def session(session_id: str, state: State, changed: datetime = T0, **fields: object) -> Session:
    made = Session(
        id=session_id,
        customer_id="c1",
        state=state,
        created_at=T0 - timedelta(minutes=1),
        updated_at=changed,
        expires_at=T0 + timedelta(minutes=10),
        version=3,
        hotel=STAY,
    )
    return replace(made, **fields)  # type: ignore[arg-type]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- the pure decisions


def unfinished(sid: str, state: State, expires_at: datetime = T0, changed: datetime = T0) -> Unfinished:
    return Unfinished(sid, expires_at, state, changed)


def test_only_expirable_sessions_missing_from_the_schedule_get_their_deadline_back() -> None:
    deadline = T0 + timedelta(minutes=5)
    summaries = [
        unfinished("open-lost", State.OPEN, deadline),
        unfinished("pending-lost", State.PAYMENT_PENDING, deadline),
        unfinished("open-kept", State.OPEN, deadline),
        unfinished("confirming", State.CONFIRMING, deadline),
        unfinished("cancelling", State.CANCELLING, deadline),
        unfinished("attention", State.NEEDS_ATTENTION, deadline),
    ]
    restored = reconciliation.deadlines_to_restore(summaries, scheduled={"open-kept"})
    assert restored == {"open-lost": ms(deadline), "pending-lost": ms(deadline)}


def test_a_deadline_already_past_is_restored_so_the_worker_expires_it_at_once() -> None:
    past = T0 - timedelta(hours=1)
    restored = reconciliation.deadlines_to_restore([unfinished("s1", State.OPEN, past)], scheduled=())
    assert restored == {"s1": ms(past)}


# (id, state, last change) of sessions on both sides of the bound, judged as of T0 + BOUND.
AROUND_THE_BOUND = [
    ("young", State.CONFIRMING, T0 + timedelta(seconds=1)),
    ("exactly", State.CANCELLING, T0),
    ("old", State.CONFIRMING, T0 - timedelta(minutes=5)),
    ("open", State.OPEN, T0 - timedelta(hours=1)),
    ("attention", State.NEEDS_ATTENTION, T0 - timedelta(hours=1)),
]


def test_only_sessions_waiting_for_a_saga_past_the_bound_are_read_whole() -> None:
    summaries = [unfinished(sid, state, changed=changed) for sid, state, changed in AROUND_THE_BOUND]
    assert reconciliation.maybe_overdue(summaries, T0 + BOUND, BOUND) == ["exactly", "old"]


def test_confirming_and_cancelling_sessions_are_owed_their_own_saga() -> None:
    assert reconciliation.saga_owed(State.CONFIRMING) is Redrive.CONFIRMATION
    assert reconciliation.saga_owed(State.CANCELLING) is Redrive.CANCELLATION
    for state in (State.OPEN, State.PAYMENT_PENDING, State.NEEDS_ATTENTION, State.CONFIRMED, State.EXPIRED):
        assert reconciliation.saga_owed(state) is None


def test_only_sessions_waiting_at_least_the_bound_are_overdue_oldest_first() -> None:
    sessions = [session(sid, state, changed=changed) for sid, state, changed in AROUND_THE_BOUND]
    assert [s.id for s in reconciliation.overdue(sessions, T0 + BOUND, BOUND)] == ["old", "exactly"]


def test_a_saga_is_forgotten_only_when_the_bus_keeps_nothing_of_it() -> None:
    owed = {"confirm-a": session("a", State.CONFIRMING), "cancel-b": session("b", State.CANCELLING)}
    assert reconciliation.forgotten(owed, remembered={"confirm-a"}) == [("cancel-b", owed["cancel-b"])]
    assert reconciliation.forgotten(owed, remembered={"confirm-a", "cancel-b"}) == []


def test_a_session_is_rewritten_with_its_saga_only_while_unchanged_since_judged() -> None:
    judged = session("a", State.CONFIRMING)
    later = T0 + BOUND
    written = reconciliation.redriven(judged, judged, later)
    assert written is not None
    assert (written.version, written.updated_at) == (judged.version + 1, later)
    assert written.state is State.CONFIRMING
    assert reconciliation.redriven(None, judged, later) is None
    assert reconciliation.redriven(replace(judged, version=4), judged, later) is None
    completed = replace(judged, state=State.CONFIRMED)
    assert reconciliation.redriven(completed, judged, later) is None


# --- the sweep, on fakes


class Starts:
    """Records each saga start the sweep writes with a session."""

    def __init__(self) -> None:
        self.slips: list[pb.RoutingSlip] = []

    def __call__(self, slip: pb.RoutingSlip, now: datetime) -> TransactionalWrite:
        def write(_: Connection) -> None:
            self.slips.append(slip)

        return write


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def stored(*sessions: Session) -> FakeSessionStore:
    store = FakeSessionStore()
    for made in sessions:
        await store.insert_unless(made, [], (), lambda _: None)
    return store


def reconciler(store: FakeSessionStore, bus: FakeReconcileBus, clock: Clock, starts: Starts) -> Reconciler:
    config = ReconcilerConfig(interval=timedelta(seconds=30), saga_after=BOUND)
    return Reconciler(store, bus, config, clock, saga_plans, start_write=starts)


async def test_a_sweep_restores_lost_deadlines_and_restarts_forgotten_sagas() -> None:
    store = await stored(
        session("open", State.OPEN),
        session("pending", State.PAYMENT_PENDING, payment_id=""),
        session("confirming", State.CONFIRMING, payment_id="pay-1"),
        session("cancelling", State.CANCELLING, reason=Reason.EXPIRED.value, cancel_target=State.EXPIRED),
        session("moving", State.CONFIRMING, payment_id="pay-2"),
        session("young", State.CONFIRMING, changed=T0 + timedelta(seconds=30), payment_id="pay-3"),
        session("done", State.CONFIRMED),
    )
    bus = FakeReconcileBus()
    bus.deadlines["pending"] = 1
    bus.sagas.add("confirm-moving")
    clock, starts = Clock(T0 + BOUND), Starts()

    repairs = await reconciler(store, bus, clock, starts).sweep()

    assert repairs == reconciliation.Repairs(deadlines=1, sagas=2)
    assert bus.deadlines == {"pending": 1, "open": ms(T0 + timedelta(minutes=10))}
    assert sorted(slip.saga_id for slip in starts.slips) == ["cancel-cancelling", "confirm-confirming"]
    confirming = await store.get("confirming")
    assert confirming is not None and confirming.version == 4 and confirming.updated_at == clock.now
    events = await store.events("confirming")
    assert [(e.step, e.outcome, e.saga_id) for e in events] == [
        ("reconcile", "SAGA_RESTARTED", "confirm-confirming")
    ]
    untouched = await store.get("moving")
    assert untouched is not None and untouched.version == 3


async def test_a_sweep_reads_sessions_in_pages_and_lets_other_tasks_run_between_them() -> None:
    # Reads on SQLite complete on the event loop: only an explicit yield lets calls in between.
    store = await stored(*(session(f"open-{n:02}", State.OPEN) for n in range(10)))
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    running = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    pages = [[u.session_id for u in page] async for page in unfinished_pages(store, page=4)]
    running.cancel()
    assert pages == [[f"open-{n:02}" for n in range(k, min(k + 4, 10))] for k in (0, 4, 8)]
    assert turns >= len(pages)


async def test_a_sweep_over_more_sessions_than_a_page_restores_every_lost_deadline() -> None:
    sessions = [session(f"open-{n:04}", State.OPEN) for n in range(SUMMARY_PAGE + 3)]
    store = await stored(*sessions, session("done", State.CONFIRMED))
    bus = FakeReconcileBus()
    bus.deadlines["open-0007"] = 1

    repairs = await reconciler(store, bus, Clock(T0 + BOUND), Starts()).sweep()

    assert repairs == reconciliation.Repairs(deadlines=SUMMARY_PAGE + 2)
    assert set(bus.deadlines) == {s.id for s in sessions}
    assert bus.deadlines["open-0007"] == 1


async def test_a_restarted_saga_waits_a_whole_bound_before_the_next_restart() -> None:
    store = await stored(session("confirming", State.CONFIRMING, payment_id="pay-1"))
    bus, clock, starts = FakeReconcileBus(), Clock(T0 + BOUND), Starts()
    sweeping = reconciler(store, bus, clock, starts)
    assert await sweeping.sweep() == reconciliation.Repairs(sagas=1)

    bus.expire_lease()
    clock.now += BOUND / 2
    assert await sweeping.sweep() == reconciliation.Repairs()
    bus.expire_lease()
    clock.now += BOUND / 2
    assert await sweeping.sweep() == reconciliation.Repairs(sagas=1)
    assert [slip.saga_id for slip in starts.slips] == ["confirm-confirming"] * 2


async def test_a_replica_without_the_lease_repairs_nothing() -> None:
    store = await stored(session("open", State.OPEN), session("confirming", State.CONFIRMING))
    bus, starts = FakeReconcileBus(), Starts()
    bus.lease = "another replica"
    assert await reconciler(store, bus, Clock(T0 + BOUND), starts).sweep() is None
    assert bus.deadlines == {} and starts.slips == []


async def test_a_sweep_that_lost_its_lease_midway_leaves_the_repairs_to_the_holder() -> None:
    store = await stored(session("open", State.OPEN))
    bus, starts = FakeReconcileBus(), Starts()

    class Overtaken(FakeReconcileBus):
        async def remembered(self, saga_ids: list[str]) -> set[str]:  # type: ignore[override]
            self.lease = "another replica"
            return set()

    overtaken = Overtaken()
    assert await reconciler(store, overtaken, Clock(T0 + BOUND), starts).sweep() is None
    assert overtaken.deadlines == {}
    swept = await reconciler(store, bus, Clock(T0 + BOUND), starts).sweep()
    assert swept == reconciliation.Repairs(deadlines=1)


async def test_a_claimed_deadline_counts_as_scheduled() -> None:
    store = await stored(session("open", State.OPEN))
    bus = FakeReconcileBus()
    bus.claimed.add("open")
    assert await reconciler(store, bus, Clock(T0), Starts()).sweep() == reconciliation.Repairs()
    assert bus.deadlines == {}


# --- reserve attempts left behind

GRACE = timedelta(minutes=2)


def attempt(session_id: str, participant: str, started: datetime) -> ReserveAttempt:
    return ReserveAttempt(session_id, participant, f"{session_id}-{participant}", ms(started))


def test_only_attempts_of_settled_or_unknown_sessions_are_swept() -> None:
    sessions = {
        "done": session("done", State.CONFIRMED),
        "expired": session("expired", State.EXPIRED),
        "open": session("open", State.OPEN),
        "confirming": session("confirming", State.CONFIRMING),
        "stuck": session("stuck", State.NEEDS_ATTENTION),
    }
    left = [attempt(sid, "hotel", T0) for sid in [*sessions, "never-opened"]]
    left.append(attempt("done", "flights", T0))
    swept = reconciliation.attempts_to_sweep(left, sessions)
    assert sorted(swept) == ["done", "expired", "never-opened"]
    assert [a.participant for a in swept["done"]] == ["hotel", "flights"]


async def test_a_sweep_releases_the_strays_of_settled_sessions_once_their_attempts_are_old() -> None:
    store = await stored(session("done", State.CONFIRMED), session("open", State.OPEN))
    bus = FakeReconcileBus()
    bus.claimed.add("open")
    old, young = T0 - GRACE - timedelta(seconds=1), T0 - GRACE + timedelta(seconds=1)
    bus.attempts = [
        attempt("done", "flights", old),
        attempt("open", "hotel", old),
        attempt("gone", "hotel", old),
        attempt("young", "hotel", young),
    ]

    repairs = await reconciler(store, bus, Clock(T0), Starts()).sweep()

    assert repairs == reconciliation.Repairs(strays=2)
    releases = {slip.session_id: slip for slip in bus.started}
    assert sorted(releases) == ["done", "gone"]
    done = releases["done"]
    # Only the participant the attempt was left at lists its holds, keeping what the session bought.
    assert [(s.name, s.arguments["keep"]) for s in done.itinerary] == [("flights.release", "h1")]
    assert [(s.name, s.arguments["keep"]) for s in releases["gone"].itinerary] == [("hotel.release", "")]
    assert done.saga_id.startswith("strays-") and done.saga_id != releases["gone"].saga_id
    # A session still open may yet attach the hold; an attempt too young may not have made it yet.
    assert sorted(a.session_id for a in bus.attempts) == ["open", "young"]
