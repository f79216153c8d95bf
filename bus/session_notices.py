"""What a session's change channel carries: the new timeline entries and state, as one SessionNotice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from travel.sessions.v1 import sessions_pb2 as pb

from bus.history import DUPLICATE_DETAIL, HistoryEvent
from kit.timestamps import stamp

# Past this size a notice only says to read again: notices are meant to be small, and a subscriber
# that reads again loses nothing.
MAX_NOTICE_BYTES = 8192

# What a change that a notice does not carry (a stuck flag, a replay) publishes, uncounted.
READ_AGAIN = pb.SessionNotice(read_again=True).SerializeToString()

_DUPLICATE_OUTCOME = HistoryEvent.DUPLICATE_SKIPPED.value.upper()


def saga_event(
    saga_id: str, at: datetime, event: str, step: str, attempt: int, detail: str
) -> pb.SessionEvent:
    """A saga history record as a session timeline entry; the same bytes whether read or noticed."""
    kind = saga_id.split("-", 1)[0]
    time = Timestamp()
    stamp(time, at)
    return pb.SessionEvent(
        time=time,
        saga_id=saga_id,
        kind=kind,
        step=step or kind,
        outcome=event.upper(),
        attempt=attempt,
        detail=detail,
    )


def history_at(at_ms: str) -> datetime:
    """A history record's time, as stored (whole milliseconds)."""
    return datetime.fromtimestamp(int(at_ms or "0") / 1000, tz=UTC)


def history_events(saga_id: str, history: Iterable[Sequence[str]]) -> list[pb.SessionEvent]:
    """Timeline entries of history records given as flat field/value lists (`history_fields`).

    The same entries as `saga_event` makes of the records read back, built without a datetime:
    this runs twice on every hop (the notice and its duplicate form).
    """
    kind = saga_id.split("-", 1)[0]
    events = []
    for record in history:
        fields = dict(zip(record[0::2], record[1::2], strict=True))
        millis = int(fields.get("at_ms") or "0")
        step = fields.get("step", "")
        event = pb.SessionEvent(
            saga_id=saga_id,
            kind=kind,
            step=step or kind,
            outcome=fields.get("event", "").upper(),
            attempt=int(fields.get("attempt", "0")),
            detail=fields.get("detail", ""),
        )
        # Set in place: a Timestamp passed to the constructor would be built, then copied.
        time = event.time
        time.seconds = millis // 1000
        time.nanos = millis % 1000 * 1_000_000
        events.append(event)
    return events


def as_duplicate_event(event: pb.SessionEvent) -> pb.SessionEvent:
    """The timeline entry of a record as `bus.history.as_duplicate` rewrites it: the commit
    script's record of a step it found already done."""
    duplicate = pb.SessionEvent()
    duplicate.CopyFrom(event)
    duplicate.outcome = _DUPLICATE_OUTCOME
    duplicate.detail = DUPLICATE_DETAIL
    return duplicate


def notice_body(events: Sequence[pb.SessionEvent], session: pb.Session | None = None) -> bytes:
    """A notice without its number (the publishing script puts that in front), or READ_AGAIN if large."""
    notice = pb.SessionNotice(events=events)
    if session is not None:
        notice.session.CopyFrom(session)
    body = notice.SerializeToString()
    return body if len(body) <= MAX_NOTICE_BYTES else READ_AGAIN
