"""The operator CLI's pure parts: which dead letters a filter selects, ages, and the JSON documents."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bus.dead_letters import DeadLetter
from bus.history import HistoryEvent, HistoryRecord
from bus.monitoring import GroupFigures, StuckEntry
from bus.operator_actions import ActionKind, OperatorAction
from tools.cli_documents import (
    action_document,
    dead_letter_document,
    dumps,
    figures_document,
    history_document,
    replay_document,
)
from tools.dead_letter_selection import LetterFilter, parse_age
from tools.venv_commands import commands, script

NOW = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)
LETTER = DeadLetter(
    entry_id="p3-1-0", saga_id="confirm-s1", session_id="s1", step="hotel.confirm", participant="hotel",
    error="TransientFailure: provider 503", deliveries=1, attempt=15, dead_at=NOW - timedelta(minutes=30),
    source_id="1-0", slip=None, failure_kind="transient", error_type="TransientFailure",
    error_message="provider 503",
)  # fmt: skip
FLIGHTS = replace(LETTER, entry_id="p1-2-0", session_id="s2", step="flights.confirm", participant="flights")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86_400), ("1h30m", 5400), (" 5M ", 300)],
)
def test_ages_are_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_age(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "-5m", "1.5h", "10m junk", "h10"])
def test_anything_else_is_no_age(text: str) -> None:
    with pytest.raises(ValueError, match="no age"):
        parse_age(text)


def test_a_filter_keeps_what_every_given_condition_matches() -> None:
    letters = [LETTER, FLIGHTS]
    assert LetterFilter().select(letters, NOW) == letters
    assert not LetterFilter().narrows
    assert LetterFilter(participant="hotel").select(letters, NOW) == [LETTER]
    assert LetterFilter(step="flights.confirm").select(letters, NOW) == [FLIGHTS]
    assert LetterFilter(session_id="s2").select(letters, NOW) == [FLIGHTS]
    assert LetterFilter(older_than=timedelta(minutes=30)).select(letters, NOW) == letters
    assert LetterFilter(older_than=timedelta(minutes=31)).select(letters, NOW) == []
    assert LetterFilter(participant="hotel", session_id="s2").select(letters, NOW) == []


def test_a_dead_letter_document_has_stable_keys_and_utc_times() -> None:
    document = dead_letter_document(LETTER)
    assert list(document) == [
        "entry_id", "saga_id", "session_id", "step", "participant", "error", "failure_kind", "error_type",
        "error_message", "deliveries", "attempt", "dead_at", "source_id", "replayable",
    ]  # fmt: skip
    assert document["dead_at"] == "2030-01-02T11:30:00Z"
    assert document["replayable"] is False
    assert dead_letter_document(LETTER, with_slip=True)["slip"] is None
    assert json.loads(dumps([document])) == [document]


def test_replay_action_history_and_lag_documents() -> None:
    assert replay_document(LETTER, None, dry_run=True)["replayed_entry_id"] is None
    assert replay_document(LETTER, "5-0")["replayed_entry_id"] == "5-0"
    action = OperatorAction(
        action_id="p3-9-0", at=NOW, action=ActionKind.DISCARD, operator="ann", via="cli",
        reason="done by hand", entry_id="p3-1-0", saga_id="confirm-s1", session_id="s1", step="hotel.confirm",
        participant="hotel", error="boom", replayed_entry_id="",
    )  # fmt: skip
    document = action_document(action)
    assert (document["action"], document["at"], document["replayed_entry_id"]) == (
        "discard", "2030-01-02T12:00:00Z", None,
    )  # fmt: skip
    record = HistoryRecord(
        saga_id="confirm-s1", entry_id="1-0", at=NOW, event=HistoryEvent.DEAD_LETTERED, step="hotel.confirm",
        participant="hotel", phase="forward", attempt=15, detail="gave up", consumer="c1",
    )  # fmt: skip
    shown = history_document(record, {"hotel.confirm": "Confirm hotel stay"})
    assert (shown["outcome"], shown["what"]) == ("DEAD_LETTERED", "Confirm hotel stay")
    figures = GroupFigures(
        "hotel", "t:{p*}:stream:hotel", 3, 1, 1, 2, 0, (StuckEntry("p0-1-0", "c1", 70_000, 2),)
    )
    assert figures_document(figures)["stuck"] == [
        {"entry_id": "p0-1-0", "consumer": "c1", "idle_ms": 70_000, "deliveries": 2}
    ]


def test_the_project_declares_travel_ops_and_its_script_calls_it() -> None:
    declared = commands(Path(__file__).resolve().parents[3] / "pyproject.toml")
    assert declared["travel-ops"] == "tools.bus_cli:run"
    text = script(Path("/venv/bin/python"), declared["travel-ops"])
    assert text.startswith("#!/venv/bin/python\n")
    assert "from tools.bus_cli import run" in text and "sys.exit(run())" in text
    with pytest.raises(ValueError):
        script(Path("/venv/bin/python"), "tools.bus_cli")
