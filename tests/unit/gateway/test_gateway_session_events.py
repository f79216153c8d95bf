"""The event stream's frames: one read, then what notices carry, each event once, then the end."""

from __future__ import annotations

import asyncio
import json
from typing import cast

import grpc
import pytest
from starlette.requests import Request
from travel.sessions.v1 import sessions_pb2

from gateway import session_events
from gateway.session_events import Snapshot, event_frames

OPEN, CONFIRMED = sessions_pb2.STATE_OPEN, sessions_pb2.STATE_CONFIRMED


def event(saga: str, step: str, outcome: str) -> sessions_pb2.SessionEvent:
    return sessions_pb2.SessionEvent(saga_id=saga, kind="confirm", step=step, outcome=outcome)


class ScriptedSessions:
    """Answers each read with the next scripted snapshot, then repeats the last one."""

    def __init__(self, script: list[Snapshot], error: grpc.aio.AioRpcError | None = None) -> None:
        self.script = script
        self.error = error
        self.reads = 0

    async def read(self) -> Snapshot:
        self.reads += 1
        if self.error is not None:
            raise self.error
        snapshot = self.script[min(self.reads, len(self.script)) - 1]
        # Newest first on purpose: the stream must not rely on the order or the index of events.
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


class ClientThatLeaves:
    """A request whose client is gone after `checks_before_leaving` checks."""

    def __init__(self, checks_before_leaving: int) -> None:
        self.checks_left = checks_before_leaving

    async def is_disconnected(self) -> bool:
        self.checks_left -= 1
        return self.checks_left < 0


def session(state: int, version: int = 1) -> sessions_pb2.Session:
    return sessions_pb2.Session(id="s-1", state=cast(sessions_pb2.State, state), version=version)


def notice(
    seq: int, *events: sessions_pb2.SessionEvent, state: sessions_pb2.Session | None = None
) -> sessions_pb2.SessionNotice:
    return sessions_pb2.SessionNotice(seq=seq, events=events, session=state)


def collect(
    request: object, reader: ScriptedSessions, changes: ScriptedNotices, first: Snapshot | None = None
) -> list[str]:
    async def run() -> list[str]:
        frames = event_frames(cast(Request, request), reader, changes, first)
        return [frame async for frame in frames]

    return asyncio.run(asyncio.wait_for(run(), timeout=10))


def frames_of(frames: list[str]) -> list[tuple[str, str]]:
    """(event, data) of each frame, in order."""
    found = []
    for chunk in frames:
        for block in chunk.split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in lines:
                found.append((lines["event"], lines.get("data", "")))
    return found


def frame_names(frames: list[str]) -> list[str]:
    return [name for name, _ in frames_of(frames)]


def saga_steps(frames: list[str]) -> list[str]:
    return [
        f"{data['step']}:{data['outcome']}"
        for name, raw in frames_of(frames)
        if name == "saga"
        for data in [json.loads(raw)]
    ]


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
    frames = collect(ClientThatLeaves(1000), reader, changes)
    assert frame_names(frames) == ["saga", "session", "saga", "saga", "session", "saga", "end"]
    assert saga_steps(frames) == [
        "hotel.confirm:STARTED",
        "hotel.confirm:COMPLETED",
        "sessions.complete:COMPLETED",
        "sessions.complete:SAGA_COMPLETED",
    ]
    assert reader.reads == 1, "read once, when the stream opened"


def test_a_notice_that_a_read_already_showed_sends_nothing_twice() -> None:
    # Counted after the read began, but written before it: the read and the notice both carry it.
    reader = ScriptedSessions([Snapshot(session(CONFIRMED, 2), [STARTED, DONE], covered=0)])
    changes = ScriptedNotices([[notice(1, DONE, state=session(CONFIRMED, 2))]])
    frames = collect(ClientThatLeaves(1000), reader, changes)
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
    frames = collect(ClientThatLeaves(1000), reader, changes)
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
    names = frame_names(collect(ClientThatLeaves(1000), reader, changes))
    assert names == ["session", "session", "end"]
    assert reader.reads == 2


def test_an_ended_session_without_sagas_ends_at_once() -> None:
    reader = ScriptedSessions([Snapshot(session(CONFIRMED), [])])
    names = frame_names(collect(ClientThatLeaves(1000), reader, ScriptedNotices()))
    assert names == ["session", "end"]
    assert reader.reads == 1


def test_the_stream_stops_when_the_client_disconnects() -> None:
    reader = ScriptedSessions([Snapshot(session(OPEN), [STARTED])])
    changes = ScriptedNotices([[notice(1, HOTEL)], [notice(2, COMPLETE)], [notice(3, DONE)]])
    frames = collect(ClientThatLeaves(2), reader, changes)
    assert reader.reads == 1
    assert "end" not in frame_names(frames)
    assert saga_steps(frames) == [
        "hotel.confirm:STARTED",
        "hotel.confirm:COMPLETED",
        "sessions.complete:COMPLETED",
    ]


def test_a_refusal_is_reported_and_ends_the_stream() -> None:
    refusal = grpc.aio.AioRpcError(
        grpc.StatusCode.PERMISSION_DENIED, grpc.aio.Metadata(), grpc.aio.Metadata()
    )
    frames = collect(ClientThatLeaves(1000), ScriptedSessions([], error=refusal), ScriptedNotices())
    assert frame_names(frames) == ["problem"]
    assert '"code":7' in frames[-1]


def test_a_saga_that_never_ends_holds_an_ended_stream_only_while_it_settles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_events, "SETTLE_SECONDS", 0.05)
    stuck = event("confirm-1", "hotel.confirm", "RETRY_SCHEDULED")
    reader = ScriptedSessions([Snapshot(session(CONFIRMED), [stuck])])
    changes = ScriptedNotices()
    names = frame_names(collect(ClientThatLeaves(1000), reader, changes))
    assert names == ["saga", "session", "end"]
    assert reader.reads == 2, "read once more when the settling time ran out, then ended"
    assert changes.timeouts[0] <= 0.05
