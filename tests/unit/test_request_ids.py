"""Request ids of creating calls: validation, fingerprints, and when a first result answers again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from travel.payments.v1 import payments_pb2
from travel.sessions.v1 import sessions_pb2

from kit.errors import InvalidArgument
from kit.request_ids import (
    KEPT_FOR,
    FirstResult,
    RequestKey,
    fingerprint,
    message_fingerprint,
    parse_request_id,
    replayed,
    request_key,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
REQUEST_ID = "0b9c2f6e-8d0c-4a53-9d7f-2f1e5c3a7b10"


def test_an_absent_request_id_means_no_key() -> None:
    assert parse_request_id("") is None
    assert request_key("ana", sessions_pb2.CreateSessionRequest()) is None


@pytest.mark.parametrize("text", ["x", "123", REQUEST_ID + "0", "not-a-uuid-at-all-but-36-chars-long!"])
def test_a_request_id_that_is_not_a_uuid_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_request_id(text)
    assert [v.field for v in refused.value.violations] == ["requestId"]


def test_request_ids_are_kept_in_canonical_form() -> None:
    assert parse_request_id(REQUEST_ID.upper()) == REQUEST_ID


def test_the_fingerprint_ignores_the_request_id_but_not_the_rest_of_the_body() -> None:
    first = payments_pb2.CheckoutRequest(session_id=str(uuid.uuid4()), request_id=REQUEST_ID)
    again = payments_pb2.CheckoutRequest(session_id=first.session_id, request_id=str(uuid.uuid4()))
    other = payments_pb2.CheckoutRequest(session_id=first.session_id, return_url="https://a.example/")
    assert message_fingerprint(first) == message_fingerprint(again)
    assert message_fingerprint(first) != message_fingerprint(other)
    assert first.request_id == REQUEST_ID  # the caller's message is left alone


def test_fingerprint_parts_never_run_into_each_other() -> None:
    assert fingerprint("ab", "c") != fingerprint("a", "bc")


def key(print_: str = "p") -> RequestKey:
    return RequestKey("ana", REQUEST_ID, print_)


def test_a_recorded_request_answers_its_first_result_within_the_day() -> None:
    first = FirstResult("p", "session-1", None, T0)
    assert replayed(first, key(), T0 + KEPT_FOR - timedelta(seconds=1)) == first
    assert replayed(None, key(), T0) is None


def test_a_record_older_than_a_day_counts_as_new() -> None:
    assert replayed(FirstResult("p", "session-1", None, T0), key(), T0 + KEPT_FOR) is None


def test_the_same_request_id_with_another_request_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument) as refused:
        replayed(FirstResult("p", "session-1", None, T0), key("other"), T0)
    assert [v.field for v in refused.value.violations] == ["requestId"]
