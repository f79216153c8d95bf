"""WatchSession's responses: one read, then what notices carry, each event once, resume, then the end."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from travel.sessions.v1 import sessions_pb2

from kit.errors import DependencyUnavailable
from services.sessions import watch
from services.sessions.watch import Snapshot, watch_responses

OPEN, CONFIRMED = sessions_pb2.STATE_OPEN, sessions_pb2.STATE_CONFIRMED


def event(saga: str, step: str, outcome: str) -> sessions_pb2.SessionEvent:
    return sessions_pb2.SessionEvent(saga_id=saga, kind="confirm", step=step, outcome=outcome)


class ScriptedSessions:
    """Answers each read with the next scripted snapshot, then repeats the last one."""

    def __init__(self, script: list[Snapshot], failures: int = 0) -> None:
        self.script = script
        self.failures = failures
        self.reads = 0

    async def read(self) -> Snapshot:
        self.reads += 1
        if self.reads > 1 and self.failures:
            self.failures -= 1
            raise DependencyUnavailable("change notices are unavailable")
        snapshot = self.script[min(self.reads, len(self.script)) - 1]
        # Newest first on purpose: the watch must not rely on the order or the index of events.
        return Snapshot(snapshot.session, list(reversed(snapshot.events)), snapshot.covered)


class ScriptedNotices:
    """Hands out the scripted batches of notices one per wait; then no notice ever comes."""

    def __init__(self, batches: list[list[sessions_pb2.SessionNotice]] | None = None) -> None:
        self.batches = list(batches or [])
        self.timeouts: list[float] = []

    async def take(self, timeout: float) -> list[sessions_pb2.SessionNotice]:
        if self.batches:
            return self.batches.pop(0)
        self.timeouts.append(timeout)
        await asyncio.sleep(timeout)
        return []


def session(state: int, version: int = 1) -> sessions_pb2.Session:
    return sessions_pb2.Session(id="s-1", state=cast(sessions_pb2.State, state), version=version)


def notice(
    seq: int, *events: sessions_pb2.SessionEvent, state: sessions_pb2.Session | None = None
) -> sessions_pb2.SessionNotice:
    return sessions_pb2.SessionNotice(seq=seq, events=events, session=state)


def collect(
    reader: ScriptedSessions, changes: ScriptedNotices, after_sequence: int = 0, most: int = 100
) -> list[sessions_pb2.WatchSessionResponse]:
    """The watch's responses, from the first read on; at most `most` of them."""

    async def run() -> list[sessions_pb2.WatchSessionResponse]:
        found = []
        responses = watch_responses(reader, changes, await reader.read(), after_sequence)
        async for response in responses:
            found.append(response)
            if len(found) == most:
                await responses.aclose()
                break
        return found

    return asyncio.run(asyncio.wait_for(run(), timeout=10))


def frame_names(responses: list[sessions_pb2.WatchSessionResponse]) -> list[str]:
    """What the gateway's event stream makes of them: `saga` per event, `session`, `end`."""
    names: list[str] = []
    for response in responses:
        if response.end_state:
            names.append("end")
            continue
        names += ["saga"] * len(response.events)
        if response.HasField("session"):
            names.append("session")
    return names


def saga_steps(responses: list[sessions_pb2.WatchSessionResponse]) -> list[str]:
    return [f"{e.step}:{e.outcome}" for response in responses for e in response.events]


STARTED = event("confirm-1", "hotel.confirm", "STARTED")
HOTEL = event("confirm-1", "hotel.confirm", "COMPLETED")
COMPLETE = event("confirm-1", "sessions.complete", "COMPLETED")
DONE = event("confirm-1", "sessions.complete", "SAGA_COMPLETED")


def test_after_one_read_each_notice_is_forwarded_in_order_and_the_stream_ends_after_the_last_record() -> None:
    reader = ScriptedSessions([Snapshot(session(OPEN), [STARTED], covered=3)])
    changes = ScriptedNotices(
        [
            [notice(2, STARTED), notice(3, state=session(OPEN))],  # published before the read
            [notice(4, HOTEL)],
            # Ended, but the saga's last records are still on their way: keep forwarding.
            [notice(5, COMPLETE, state=session(CONFIRMED, 2))],
            [notice(6, DONE)],
        ]
    )
    frames = collect(reader, changes)
    assert frame_names(frames) == ["saga", "session", "saga", "saga", "session", "saga", "end"]
    assert saga_steps(frames) == [
        "hotel.confirm:STARTED",
        "hotel.confirm:COMPLETED",
        "sessions.complete:COMPLETED",
        "sessions.complete:SAGA_COMPLETED",
    ]
    assert reader.reads == 1, "read once, when the stream opened"


def test_the_notices_of_one_wake_up_go_out_as_one_response() -> None:
    reader = ScriptedSessions([Snapshot(session(OPEN), [], covered=1)])
    changes = ScriptedNotices(
        [
            # Published back to back (a state change, then the saga it started): heard together.
            [notice(2, state=session(CONFIRMED, 2)), notice(3, STARTED), notice(4, HOTEL)],
            [notice(5, COMPLETE, DONE)],
        ]
    )
    responses = collect(reader, changes)
    assert len(responses) == 4, "the first read, one response per wake-up, the end"
    together = responses[1]
    assert together.sequence == 4
    assert saga_steps([together]) == ["hotel.confirm:STARTED", "hotel.confirm:COMPLETED"]
    assert together.session.state == CONFIRMED
    assert frame_names(responses) == ["session", "saga", "saga", "session", "saga", "saga", "end"]


def test_notices_heard_together_without_a_state_change_carry_no_session() -> None:
    reader = ScriptedSessions([Snapshot(session(CONFIRMED), [STARTED], covered=1)])
    changes = ScriptedNotices([[notice(2, HOTEL), notice(3, COMPLETE, DONE)]])
    responses = collect(reader, changes)
    assert [r.sequence for r in responses] == [1, 3, 3]
    assert not responses[1].HasField("session")
    assert frame_names(responses) == ["saga", "session", "saga", "saga", "saga", "end"]


def test_a_notice_that_a_read_already_showed_sends_nothing_twice() -> None:
    # Counted after the read began, but written before it: the read and the notice both carry it.
    reader = ScriptedSessions([Snapshot(session(CONFIRMED, 2), [STARTED, DONE], covered=0)])
    changes = ScriptedNotices([[notice(1, DONE, state=session(CONFIRMED, 2))]])
    frames = collect(reader, changes)
    assert frame_names(frames) == ["saga", "saga", "session", "end"]


def test_a_missed_notice_costs_one_read_and_loses_no_frame() -> None:
    reader = ScriptedSessions(
        [
            Snapshot(session(OPEN), [STARTED], covered=1),
            Snapshot(session(CONFIRMED, 2), [STARTED, HOTEL, COMPLETE], covered=3),
        ]
    )
    changes = ScriptedNotices(
        [
            # Notice 2 (HOTEL) never came: 3 shows the jump.
            [notice(3, COMPLETE, state=session(CONFIRMED, 2))],
            [notice(4, DONE)],
        ]
    )
    frames = collect(reader, changes)
    # A read's new entries come in the read's order (this fake's is reversed): each exactly once.
    assert sorted(saga_steps(frames)) == sorted(
        [
            "hotel.confirm:STARTED",
            "hotel.confirm:COMPLETED",
            "sessions.complete:COMPLETED",
            "sessions.complete:SAGA_COMPLETED",
        ]
    )
    assert frame_names(frames).count("session") == 2
    assert reader.reads == 2


def test_a_notice_that_carries_nothing_makes_the_stream_read_again() -> None:
    reader = ScriptedSessions(
        [Snapshot(session(OPEN), [], covered=0), Snapshot(session(CONFIRMED, 2), [], covered=1)]
    )
    changes = ScriptedNotices([[sessions_pb2.SessionNotice(seq=1, read_again=True)]])
    names = frame_names(collect(reader, changes))
    assert names == ["session", "session", "end"]
    assert reader.reads == 2


def test_an_ended_session_without_sagas_ends_at_once() -> None:
    reader = ScriptedSessions([Snapshot(session(CONFIRMED), [])])
    names = frame_names(collect(reader, ScriptedNotices()))
    assert names == ["session", "end"]
    assert reader.reads == 1


def test_a_failed_read_is_tried_again_a_moment_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "TRANSIENT_RETRY_SECONDS", 0.01)
    reader = ScriptedSessions(
        [Snapshot(session(OPEN), [], covered=0), Snapshot(session(CONFIRMED, 2), [], covered=1)], failures=2
    )
    changes = ScriptedNotices([[sessions_pb2.SessionNotice(seq=1, read_again=True)]])
    assert frame_names(collect(reader, changes)) == ["session", "session", "end"]
    assert reader.reads == 4, "the first read, two that failed, one that did"


def test_each_response_carries_the_count_it_brings_the_client_up_to() -> None:
    reader = ScriptedSessions([Snapshot(session(OPEN), [STARTED], covered=3)])
    changes = ScriptedNotices([[notice(4, HOTEL)], [notice(5, DONE, state=session(CONFIRMED, 2))]])
    responses = collect(reader, changes)
    assert [r.sequence for r in responses] == [3, 4, 5, 5]
    assert responses[-1].end_state == CONFIRMED and not responses[-1].events


def test_resuming_at_the_current_count_sends_only_what_comes_next() -> None:
    reader = ScriptedSessions([Snapshot(session(OPEN), [STARTED, HOTEL], covered=4)])
    changes = ScriptedNotices([[notice(5, COMPLETE, state=session(CONFIRMED, 2))], [notice(6, DONE)]])
    responses = collect(reader, changes, after_sequence=4)
    assert saga_steps(responses) == ["sessions.complete:COMPLETED", "sessions.complete:SAGA_COMPLETED"]
    assert frame_names(responses) == ["saga", "session", "saga", "end"]
    assert [r.sequence for r in responses] == [5, 6, 6]


def test_resuming_sends_a_change_the_read_showed_before_its_notice_was_counted() -> None:
    # Committed before the read, counted after it: the read shows COMPLETE, the count is still 4.
    reader = ScriptedSessions([Snapshot(session(CONFIRMED, 2), [STARTED, COMPLETE], covered=4)])
    changes = ScriptedNotices([[notice(5, COMPLETE, state=session(CONFIRMED, 2))], [notice(6, DONE)]])
    responses = collect(reader, changes, after_sequence=4)
    assert frame_names(responses) == ["saga", "session", "saga", "end"]
    assert responses[0].session.state == CONFIRMED


def test_resuming_after_a_gap_sends_the_whole_session_again() -> None:
    reader = ScriptedSessions([Snapshot(session(OPEN), [STARTED, HOTEL], covered=7)])
    changes = ScriptedNotices([[notice(8, DONE, state=session(CONFIRMED, 2))]])
    responses = collect(reader, changes, after_sequence=4)
    assert frame_names(responses) == ["saga", "saga", "session", "saga", "session", "end"]
    assert responses[0].sequence == 7


def test_resuming_a_settled_session_at_its_count_sends_just_the_end() -> None:
    reader = ScriptedSessions([Snapshot(session(CONFIRMED, 2), [STARTED, DONE], covered=6)])
    responses = collect(reader, ScriptedNotices(), after_sequence=6)
    assert frame_names(responses) == ["end"]
    assert responses[0].sequence == 6 and responses[0].end_state == CONFIRMED
    assert reader.reads == 1


def test_an_open_session_sends_nothing_while_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "QUIET_READ_SECONDS", 0.01)
    reader = ScriptedSessions([Snapshot(session(OPEN), [STARTED], covered=1)])
    changes = ScriptedNotices()

    async def run() -> list[sessions_pb2.WatchSessionResponse]:
        found: list[sessions_pb2.WatchSessionResponse] = []

        async def follow() -> None:
            async for response in watch_responses(reader, changes, await reader.read()):
                found.append(response)

        task = asyncio.create_task(follow())
        while reader.reads < 4:  # three quiet reads, each after a silence
            await asyncio.sleep(0.01)
        task.cancel()
        return found

    responses = asyncio.run(asyncio.wait_for(run(), timeout=10))
    assert frame_names(responses) == ["saga", "session"], "quiet reads that find nothing send nothing"


def test_a_saga_that_never_ends_holds_an_ended_stream_only_while_it_settles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watch, "SETTLE_SECONDS", 0.05)
    stuck = event("confirm-1", "hotel.confirm", "RETRY_SCHEDULED")
    reader = ScriptedSessions([Snapshot(session(CONFIRMED), [stuck])])
    changes = ScriptedNotices()
    names = frame_names(collect(reader, changes))
    assert names == ["saga", "session", "end"]
    assert reader.reads == 2, "read once more when the settling time ran out, then ended"
    assert changes.timeouts[0] <= 0.05
