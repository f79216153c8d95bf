"""A session notice: small, in the timeline's own terms, and only a request to read again when large."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.sessions.v1 import sessions_pb2 as pb

from bus.history import HistoryEvent, as_duplicate, history_fields
from bus.session_notices import (
    MAX_NOTICE_BYTES,
    READ_AGAIN,
    as_duplicate_event,
    history_at,
    history_events,
    notice_body,
    saga_event,
)


def test_history_records_become_timeline_entries_at_their_stored_millisecond() -> None:
    fields = history_fields(
        event=HistoryEvent.COMPLETED, at=1_800_000_000.1234, step="hotel.confirm", attempt=2
    )
    [event] = history_events("confirm-s1", [fields])
    assert (event.saga_id, event.kind, event.step, event.outcome, event.attempt) == (
        "confirm-s1", "confirm", "hotel.confirm", "COMPLETED", 2,
    )  # fmt: skip
    assert event.time.ToDatetime(tzinfo=UTC) == datetime.fromtimestamp(1_800_000_000.123, tz=UTC)


def test_a_notice_too_large_to_carry_says_to_read_again() -> None:
    small = [pb.SessionEvent(saga_id="confirm-s1", detail="ok")]
    assert pb.SessionNotice.FromString(notice_body(small)).events[0].detail == "ok"
    large = [pb.SessionEvent(saga_id="confirm-s1", detail="x" * MAX_NOTICE_BYTES)]
    assert notice_body(large) == READ_AGAIN


def test_a_number_put_in_front_of_a_body_makes_one_notice() -> None:
    # What the publishing script does: field 1 (seq) as a varint before the serialized body.
    body = notice_body([pb.SessionEvent(saga_id="confirm-s1")])
    numbered = pb.SessionNotice.FromString(bytes([8, 0xAC, 0x02]) + body)
    assert numbered.seq == 300
    assert numbered.events[0].saga_id == "confirm-s1"


def test_notice_entries_are_those_a_read_of_the_history_makes() -> None:
    # The notice is built from the records as written; a reader builds its entries from them read back.
    records = [
        history_fields(event=HistoryEvent.COMPLETED, at=1_800_000_000.9996, step="hotel.confirm",
                       attempt=1, detail="next flights.confirm at flights"),
        history_fields(event=HistoryEvent.SAGA_COMPLETED, at=1_800_000_001.0, detail=""),
    ]  # fmt: skip
    read_back = [saga_event("confirm-s1", history_at(r[3]), r[1], r[5], int(r[11]), r[13]) for r in records]
    assert history_events("confirm-s1", records) == read_back


def test_a_duplicate_entry_is_the_read_of_the_record_the_script_rewrites() -> None:
    record = history_fields(
        event=HistoryEvent.COMPLETED, at=1_800_000_000.5, step="hotel.confirm", detail="x"
    )
    [event] = history_events("confirm-s1", [record])
    assert as_duplicate_event(event) == history_events("confirm-s1", [as_duplicate(record)])[0]
