"""WatchSession's responses: one read of the session, then what each change notice carries, then the end.

Pushed, not polled: the watch reads the session once when it opens, then forwards what each notice
on the session's change channel carries; only a notice it missed (the count jumps), a notice that
carries nothing, or a long silence makes it read again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from travel.sessions.v1 import sessions_pb2 as pb

from bus.history import HistoryEvent
from kit.errors import TransientError

# With nothing heard for this long, the watch reads the session once more, in case a change's notice
# was never published (Redis refused it). Nothing is sent unless that read finds something new.
QUIET_READ_SECONDS = 15.0
# The last saga records land a moment after the end state they caused: wait for them this long at most.
SETTLE_SECONDS = 2.0
# After a failed read, read again after this long even without a notice.
TRANSIENT_RETRY_SECONDS = 1.0
# NEEDS_ATTENTION waits for an operator, possibly for hours: the watch ends there too.
END_STATES = frozenset({pb.STATE_CONFIRMED, pb.STATE_CANCELLED, pb.STATE_EXPIRED, pb.STATE_NEEDS_ATTENTION})
# The last record of a saga: once every saga of an ended session has one, nothing more will come.
# A saga step's outcome is its history event, upper-cased (services/sessions/events.py).
SAGA_END_OUTCOMES = frozenset(
    event.value.upper()
    for event in (HistoryEvent.SAGA_COMPLETED, HistoryEvent.SAGA_COMPENSATED, HistoryEvent.DEAD_LETTERED)
)


@dataclass(frozen=True)
class Snapshot:
    """A session and its whole timeline, and how many of its notices the read covers."""

    session: pb.Session
    events: list[pb.SessionEvent]
    covered: int = 0  # every notice numbered up to this is in the read


class SessionReader(Protocol):
    async def read(self) -> Snapshot: ...


class ChangeSignal(Protocol):
    async def take(self, timeout: float) -> list[pb.SessionNotice]: ...


@dataclass
class WatchState:
    """What this watch already sent, so each read or notice sends only what is new."""

    covered: int = 0
    seen_events: set[bytes] = field(default_factory=set)
    sent_session: pb.Session | None = None
    # The newest session known, sent or not: what the watch ends on.
    latest: pb.Session | None = None
    sagas: set[str] = field(default_factory=set)
    ended_sagas: set[str] = field(default_factory=set)
    settle_until: float | None = None

    def first_response(self, snapshot: Snapshot, after_sequence: int) -> pb.WatchSessionResponse | None:
        """The opening read; a client resuming at the read's count gets nothing of it.

        Such a read may already show a change whose notice is not counted yet: its entries are not
        marked as sent, so that notice still sends them.
        """
        if after_sequence and after_sequence == snapshot.covered:
            self.covered = snapshot.covered
            self._track(snapshot.events)
            self.latest = snapshot.session
            return None
        return self.read_response(snapshot)

    def read_response(self, snapshot: Snapshot) -> pb.WatchSessionResponse | None:
        """A read's response: every event not sent yet, and the session if it changed."""
        self.covered = max(self.covered, snapshot.covered)
        events = self._new_events(snapshot.events)
        session = snapshot.session
        changed = self.sent_session is None or session != self.sent_session
        self._note_session(session)
        if not events and not changed:
            return None
        return self._response(events, session if changed else None)

    def needs_read(self, notice: pb.SessionNotice) -> bool:
        """The notice does not carry its change, or a notice before it never came."""
        if notice.seq and notice.seq <= self.covered:
            return False  # in what the watch already read or was told
        return notice.read_again or not notice.seq or notice.seq > self.covered + 1

    def notice_response(self, notice: pb.SessionNotice) -> pb.WatchSessionResponse | None:
        """The response of the next notice in order (`needs_read` said no): what it carries that is new."""
        if notice.seq <= self.covered:
            return None
        self.covered = notice.seq
        events = self._new_events(notice.events)
        session = None
        # A read may already have sent this state or a later one.
        if notice.HasField("session") and (
            self.sent_session is None or notice.session.version > self.sent_session.version
        ):
            session = notice.session
            self._note_session(session)
        if not events and session is None:
            return None
        return self._response(events, session)

    def end_response(self) -> pb.WatchSessionResponse:
        assert self.latest is not None
        return pb.WatchSessionResponse(sequence=self.covered, end_state=self.latest.state)

    def finished(self, now: float) -> bool:
        """The session ended and its sagas wrote their last records, or waited long enough for them."""
        if self.latest is None or self.latest.state not in END_STATES:
            return False
        if self.settle_until is None:
            self.settle_until = now + SETTLE_SECONDS
        return self.sagas <= self.ended_sagas or now >= self.settle_until

    def next_wake(self, now: float, last_heard: float, failed: bool) -> float:
        """Seconds to wait for a notice before reading anyway."""
        wake = last_heard + QUIET_READ_SECONDS
        if self.settle_until is not None:
            wake = min(wake, self.settle_until)
        if failed:
            wake = min(wake, now + TRANSIENT_RETRY_SECONDS)
        return max(0.0, wake - now)

    def _response(self, events: list[pb.SessionEvent], session: pb.Session | None) -> pb.WatchSessionResponse:
        return pb.WatchSessionResponse(sequence=self.covered, events=events, session=session)

    def _note_session(self, session: pb.Session) -> None:
        self.sent_session = session
        if self.latest is None or session.version >= self.latest.version:
            self.latest = session

    def _track(self, events: Iterable[pb.SessionEvent]) -> None:
        for event in events:
            if event.saga_id and event.kind != "session":
                self.sagas.add(event.saga_id)
            if event.outcome in SAGA_END_OUTCOMES:
                self.ended_sagas.add(event.saga_id)

    def _new_events(self, events: Iterable[pb.SessionEvent]) -> list[pb.SessionEvent]:
        new: list[pb.SessionEvent] = []
        for event in events:
            # A read re-sorts the timeline, and a read and a notice may both carry an event:
            # an event is known by its content, not its index.
            key = event.SerializeToString(deterministic=True)
            if key not in self.seen_events:
                self.seen_events.add(key)
                new.append(event)
        self._track(new)
        return new


def merged(responses: list[pb.WatchSessionResponse]) -> pb.WatchSessionResponse:
    """Responses sent back to back as one: every event in order, the newest session, the last count."""
    if len(responses) == 1:
        return responses[0]
    sessions = [response.session for response in responses if response.HasField("session")]
    return pb.WatchSessionResponse(
        sequence=responses[-1].sequence,
        events=[event for response in responses for event in response.events],
        session=sessions[-1] if sessions else None,
    )


async def watch_responses(
    reader: SessionReader, changes: ChangeSignal, first: Snapshot, after_sequence: int = 0
) -> AsyncIterator[pb.WatchSessionResponse]:
    """The responses of one watch: the first read, then what each notice carries; a missed notice
    costs a read. `first` was read after `changes` began listening, so nothing is missed."""
    state = WatchState()
    response = state.first_response(first, after_sequence)
    if response is not None:
        yield response
    last_heard = time.monotonic()
    pending: deque[pb.SessionNotice] = deque()
    read_due = failed = False
    while True:
        if read_due:
            try:
                snapshot = await reader.read()
                read_due = failed = False
            except TransientError:
                failed = True
            else:
                response = state.read_response(snapshot)
                if response is not None:
                    yield response
        # The notices of one wake-up go out as one response: a stream message costs both ends
        # more than the events it carries.
        carried: list[pb.WatchSessionResponse] = []
        while pending and not read_due:
            notice = pending.popleft()
            if state.needs_read(notice):
                # The read counts at least this notice: it was published before the read began.
                read_due = True
            else:
                response = state.notice_response(notice)
                if response is not None:
                    carried.append(response)
        if carried:
            yield merged(carried)
        if read_due and not failed:
            continue
        if not read_due and state.finished(time.monotonic()):
            yield state.end_response()
            return
        notices = await changes.take(state.next_wake(time.monotonic(), last_heard, failed))
        if notices:
            pending.extend(notices)
            last_heard = time.monotonic()
            continue
        # Nothing came in time: the end of settling, a retry after a failed read, or a long silence.
        if time.monotonic() - last_heard >= QUIET_READ_SECONDS:
            last_heard = time.monotonic()
        read_due = True
