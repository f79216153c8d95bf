"""The invariant checker finds every kind of broken promise, and passes kept ones."""

from tools.invariants import SessionRecords, violations_of


def session(state: str) -> dict:
    return {
        "id": "s1",
        "state": state,
        "items": [
            {"hotel": {"holdId": "h1"}},
            {"flights": {"outbound": {"holdId": "f1"}, "returnLeg": {"holdId": "f2"}}},
        ],
    }


def holds(*statuses: str) -> list[dict]:
    return [{"id": hid, "status": st} for hid, st in zip(["h1", "f1", "f2", "h0"], statuses, strict=False)]


def test_confirmed_with_everything_confirmed_and_one_capture_holds() -> None:
    records = SessionRecords(
        session("STATE_CONFIRMED"),
        holds("CONFIRMED", "CONFIRMED", "CONFIRMED"),
        [{"id": "p", "status": "SUCCEEDED"}],
    )
    assert violations_of(records) == []


def test_confirmed_with_a_held_leg_or_no_capture_is_a_violation() -> None:
    records = SessionRecords(
        session("STATE_CONFIRMED"),
        holds("CONFIRMED", "CONFIRMED", "HELD"),
        [{"id": "p", "status": "REFUNDED"}],
    )
    problems = violations_of(records)
    assert any("f2 is HELD" in p for p in problems)
    assert any("not one capture" in p for p in problems)


def test_cancelled_must_release_and_refund() -> None:
    ok = SessionRecords(
        session("STATE_CANCELLED"),
        holds("CANCELLED", "CANCELLED", "CANCELLED"),
        [{"id": "p", "status": "REFUNDED"}],
    )
    assert violations_of(ok) == []
    bad = SessionRecords(
        session("STATE_EXPIRED"),
        holds("CANCELLED", "CONFIRMED", "CANCELLED"),
        [{"id": "p", "status": "SUCCEEDED"}],
    )
    assert len(violations_of(bad)) == 2


def test_two_captures_are_a_double_charge() -> None:
    records = SessionRecords(
        session("STATE_CANCELLED"), [], [{"id": "a", "status": "REFUNDED"}, {"id": "b", "status": "REFUNDED"}]
    )
    assert any("charged 2 times" in p for p in violations_of(records))


def test_replaced_hold_left_held_is_a_violation() -> None:
    records = SessionRecords(
        session("STATE_CONFIRMED"),
        holds("CONFIRMED", "CONFIRMED", "CONFIRMED", "HELD"),
        [{"id": "p", "status": "SUCCEEDED"}],
    )
    assert any("replaced hold h0" in p for p in violations_of(records))
