"""The open-session cap: below it a session fits; at it, a refusal that says when to retry."""

from datetime import UTC, datetime, timedelta

from services.sessions.domain import State
from services.sessions.open_limit import COUNTED_AS_OPEN, OpenSessions, open_limit_refusal

NOW = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)


def test_below_the_cap_a_session_fits() -> None:
    assert open_limit_refusal(OpenSessions(4, NOW + timedelta(minutes=3)), limit=5, now=NOW) is None
    assert open_limit_refusal(OpenSessions(0, None), limit=1, now=NOW) is None


def test_at_the_cap_the_refusal_waits_for_the_earliest_deadline() -> None:
    refused = open_limit_refusal(OpenSessions(5, NOW + timedelta(seconds=90.2)), limit=5, now=NOW)
    assert refused is not None
    assert refused.retry_after_seconds == 91
    assert refused.subject == "sessions:open"
    assert "at most 5 open sessions" in refused.message


def test_a_deadline_already_passed_or_unknown_asks_for_one_second() -> None:
    passed = open_limit_refusal(OpenSessions(6, NOW - timedelta(minutes=1)), limit=5, now=NOW)
    unknown = open_limit_refusal(OpenSessions(5, None), limit=5, now=NOW)
    assert passed is not None and passed.retry_after_seconds == 1
    assert unknown is not None and unknown.retry_after_seconds == 1


def test_terminal_sessions_and_those_awaiting_an_operator_do_not_count() -> None:
    assert {State.OPEN, State.PAYMENT_PENDING, State.CONFIRMING, State.CANCELLING} == COUNTED_AS_OPEN
