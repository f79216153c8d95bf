"""A session's timeline: the arbiter's events and its sagas' history, merged in time order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from travel.sessions.v1 import sessions_pb2 as pb

from bus.history import HistoryEvent, HistoryRecord
from services.sessions import domain
from services.sessions.events import SessionTimeline
from services.sessions.open_limit import COUNTED_AS_OPEN
from tests.fakes.session_store import FakeSessionStore

T0 = datetime(2031, 1, 1, 12, tzinfo=UTC)


def record(
    saga_id: str, at: datetime, event: HistoryEvent, step: str = "", attempt: int = 0
) -> HistoryRecord:
    return HistoryRecord(
        saga_id, "1-0", at, event, step, "hotel", "forward", attempt, f"{event} {step}", "c1"
    )


def arbiter_event(step: str, outcome: str, at: datetime, saga_id: str = "") -> dict[str, object]:
    return {"time": at, "kind": "session", "step": step, "outcome": outcome, "detail": "", "saga_id": saga_id}


async def timeline_of(
    history: Mapping[str, Sequence[HistoryRecord]], *events: dict[str, object]
) -> list[pb.SessionEvent]:
    store = FakeSessionStore()
    session = domain.open_session("s1", "c1", T0, timedelta(minutes=10))
    await store.insert_unless(session, list(events), COUNTED_AS_OPEN, lambda _: None)

    async def saga_history(session_id: str) -> Mapping[str, Sequence[HistoryRecord]]:
        assert session_id == "s1"
        return history

    return await SessionTimeline(store, saga_history).events("s1")


async def test_arbiter_events_and_saga_history_interleave_by_time() -> None:
    history = {
        "confirm-s1": [
            record("confirm-s1", T0 + timedelta(seconds=2), HistoryEvent.STARTED, "hotel.confirm"),
            record("confirm-s1", T0 + timedelta(seconds=4), HistoryEvent.RETRY_SCHEDULED, "hotel.confirm", 1),
        ]
    }
    events = await timeline_of(
        history,
        arbiter_event("state", "OPEN", T0),
        arbiter_event("payment", "SUCCEEDED", T0 + timedelta(seconds=1)),
        arbiter_event("state", "CONFIRMED", T0 + timedelta(seconds=5)),
    )
    assert [(e.kind, e.step, e.outcome) for e in events] == [
        ("session", "state", "OPEN"),
        ("session", "payment", "SUCCEEDED"),
        ("confirm", "hotel.confirm", "STARTED"),
        ("confirm", "hotel.confirm", "RETRY_SCHEDULED"),
        ("session", "state", "CONFIRMED"),
    ]
    retry = events[3]
    assert (retry.saga_id, retry.attempt, retry.detail) == ("confirm-s1", 1, "retry_scheduled hotel.confirm")
    assert retry.time.ToDatetime(tzinfo=UTC) == T0 + timedelta(seconds=4)


async def test_at_the_same_instant_the_arbiters_own_event_comes_first() -> None:
    history = {"cancel-s1": [record("cancel-s1", T0, HistoryEvent.STARTED, "flights.release")]}
    events = await timeline_of(history, arbiter_event("state", "CANCELLING", T0, saga_id="cancel-s1"))
    assert [e.kind for e in events] == ["session", "cancel"]
    assert events[0].saga_id == "cancel-s1"


async def test_a_saga_level_record_is_named_after_its_saga_kind() -> None:
    history = {"refund-pay_1": [record("refund-pay_1", T0, HistoryEvent.SAGA_COMPLETED)]}
    [event] = await timeline_of(history)
    assert (event.kind, event.step, event.outcome) == ("refund", "refund", "SAGA_COMPLETED")


async def test_stored_times_without_a_zone_are_read_as_utc() -> None:
    naive = T0.replace(tzinfo=None) + timedelta(seconds=3)
    history = {"confirm-s1": [record("confirm-s1", T0 + timedelta(seconds=2), HistoryEvent.STARTED, "x")]}
    events = await timeline_of(history, arbiter_event("state", "CONFIRMED", naive))
    assert [e.outcome for e in events] == ["STARTED", "CONFIRMED"]
    assert events[1].time.ToDatetime(tzinfo=UTC) == T0 + timedelta(seconds=3)


async def test_a_session_with_no_events_has_an_empty_timeline() -> None:
    assert await timeline_of({}) == []
