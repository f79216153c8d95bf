"""The event stream's frames: each event pushed once, one read per change, the end after the last record."""

from __future__ import annotations

import asyncio
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
        session, events = self.script[min(self.reads, len(self.script)) - 1]
        # Newest first on purpose: the stream must not rely on the order or the index of events.
        return session, list(reversed(events))


class EveryReadChanges:
    """A notice is waiting after every read: the stream never has to sleep."""

    def __init__(self) -> None:
        self.waits = 0

    async def wait(self, timeout: float) -> bool:
        self.waits += 1
        return True


class NothingChanges:
    """No notice ever comes: each wait lasts its whole timeout."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    async def wait(self, timeout: float) -> bool:
        self.timeouts.append(timeout)
        await asyncio.sleep(timeout)
        return False


class ClientThatLeaves:
    """A request whose client is gone after `checks_before_leaving` checks."""

    def __init__(self, checks_before_leaving: int) -> None:
        self.checks_left = checks_before_leaving

    async def is_disconnected(self) -> bool:
        self.checks_left -= 1
        return self.checks_left < 0


def session(state: int) -> sessions_pb2.Session:
    return sessions_pb2.Session(id="s-1", state=cast(sessions_pb2.State, state))


def collect(request: object, reader: ScriptedSessions, changes: object) -> list[str]:
    async def run() -> list[str]:
        frames = event_frames(cast(Request, request), reader, changes)  # type: ignore[arg-type]
        return [frame async for frame in frames]

    return asyncio.run(asyncio.wait_for(run(), timeout=10))


def frame_names(frames: list[str]) -> list[str]:
    return [
        line.removeprefix("event: ")
        for frame in frames
        for line in frame.splitlines()
        if line.startswith("event:")
    ]


def test_each_event_is_pushed_once_and_the_stream_ends_after_the_sagas_last_record() -> None:
    started = event("confirm-1", "hotel.confirm", "STARTED")
    hotel = event("confirm-1", "hotel.confirm", "COMPLETED")
    complete = event("confirm-1", "sessions.complete", "COMPLETED")
    done = event("confirm-1", "sessions.complete", "SAGA_COMPLETED")
    reader = ScriptedSessions(
        [
            (session(OPEN), [started]),
            (session(OPEN), [started]),
            (session(OPEN), [started, hotel]),
            # Ended, but the saga's last records are still on their way: keep reading.
            (session(CONFIRMED), [started, hotel, complete]),
            (session(CONFIRMED), [started, hotel, complete, done]),
        ]
    )
    changes = EveryReadChanges()
    names = frame_names(collect(ClientThatLeaves(1000), reader, changes))
    assert names.count("saga") == 4
    assert names.count("session") == 2  # OPEN, then CONFIRMED: an unchanged session is not resent
    assert names[-1] == "end"
    assert reader.reads == 5, "one read per change, none after the end"
    assert changes.waits == 4


def test_an_ended_session_without_sagas_ends_at_once() -> None:
    reader = ScriptedSessions([(session(CONFIRMED), [])])
    names = frame_names(collect(ClientThatLeaves(1000), reader, EveryReadChanges()))
    assert names == ["session", "end"]
    assert reader.reads == 1


def test_the_stream_stops_when_the_client_disconnects() -> None:
    reader = ScriptedSessions([(session(OPEN), [event("confirm-1", "hotel.confirm", "STARTED")])])
    frames = collect(ClientThatLeaves(2), reader, EveryReadChanges())
    assert reader.reads == 3
    assert "end" not in frame_names(frames)


def test_a_refusal_is_reported_and_ends_the_stream() -> None:
    refusal = grpc.aio.AioRpcError(
        grpc.StatusCode.PERMISSION_DENIED, grpc.aio.Metadata(), grpc.aio.Metadata()
    )
    frames = collect(ClientThatLeaves(1000), ScriptedSessions([], error=refusal), EveryReadChanges())
    assert frame_names(frames) == ["problem"]
    assert '"code":7' in frames[-1]


def test_a_saga_that_never_ends_holds_an_ended_stream_only_while_it_settles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_events, "SETTLE_SECONDS", 0.05)
    stuck = event("confirm-1", "hotel.confirm", "RETRY_SCHEDULED")
    reader = ScriptedSessions([(session(CONFIRMED), [stuck])])
    changes = NothingChanges()
    names = frame_names(collect(ClientThatLeaves(1000), reader, changes))
    assert names == ["saga", "session", "end"]
    assert reader.reads == 2, "read once more when the settling time ran out, then ended"
    assert changes.timeouts[0] <= 0.05
