"""The operator CLI on real dead letters: filtered bulk replay, discard with a reason, audit, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bus.dead_letters import list_dead_letters
from bus.keys import BusKeys
from tests.support.dead_letters import dead_letter
from tools import bus_cli as cli

ROOT = Path(__file__).resolve().parents[3]
HOUR = 3600.0


@pytest.fixture
def keys(namespace: str) -> BusKeys:
    return BusKeys(namespace, partitions=4)


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich fits tables to the terminal: wide enough that no cell is cut."""
    monkeypatch.setenv("COLUMNS", "300")


class Cli:
    def __init__(self, url: str, keys: BusKeys, capsys: pytest.CaptureFixture[str]) -> None:
        self.base = ["--redis-url", url, "--namespace", keys.namespace, "--partitions", str(keys.partitions)]
        self.capsys = capsys

    async def json(self, *args: str, code: int = 0) -> Any:
        """Run a command with --output json: its one document, parsed."""
        self.capsys.readouterr()
        assert await cli.main([*self.base, "--output", "json", *args]) == code
        return json.loads(self.capsys.readouterr().out)

    async def table(self, *args: str, code: int = 0) -> str:
        self.capsys.readouterr()
        assert await cli.main([*self.base, *args]) == code
        return self.capsys.readouterr().out


async def test_bulk_replay_takes_only_what_the_filters_match(
    client7: Redis, redis7_url: str, keys: BusKeys, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    old_hotel = await dead_letter(client7, keys, "g1", "s1", at=now - 2 * HOUR)
    new_hotel = await dead_letter(client7, keys, "g2", "s2", at=now)
    old_flights = await dead_letter(client7, keys, "g3", "s3", failing="flights", at=now - 2 * HOUR)
    run = Cli(redis7_url, keys, capsys)

    listed = await run.json("dead-letters", "list")
    assert [d["entry_id"] for d in listed] == [old_hotel.entry_id, old_flights.entry_id, new_hotel.entry_id]
    assert set(listed[0]) >= {"entry_id", "saga_id", "session_id", "step", "participant", "error", "dead_at"}
    assert listed[0]["replayable"] is True and "slip" not in listed[0]
    shown = await run.json("dead-letters", "show", old_hotel.entry_id)
    assert shown["slip"]["sagaId"] == "g1"

    dry = await run.json("dead-letters", "replay", "--all", "--participant", "hotel", "--dry-run")
    assert [(d["entry_id"], d["replayed_entry_id"], d["dry_run"]) for d in dry] == [
        (old_hotel.entry_id, None, True),
        (new_hotel.entry_id, None, True),
    ]
    assert len(await list_dead_letters(client7, keys)) == 3, "a dry run replays nothing"

    done = await run.json(
        "dead-letters", "replay", "--all", "--participant", "hotel", "--older-than", "1h", "--operator", "ann"
    )
    assert [(d["entry_id"], d["step"]) for d in done] == [(old_hotel.entry_id, "hotel.confirm")]
    assert done[0]["replayed_entry_id"]
    again = await run.json(
        "dead-letters", "replay", "--all", "--participant", "hotel", "--older-than", "1h", "--operator", "ann"
    )
    assert again == [], "each dead letter is replayed once"
    left = {d.entry_id for d in await list_dead_letters(client7, keys)}
    assert left == {new_hotel.entry_id, old_flights.entry_id}

    shown_table = await run.table(
        "dead-letters", "replay", "--all", "--session", "s3", "--step", "flights.confirm", "--operator", "ann"
    )
    assert "replayed: 1 dead letter(s)" in shown_table and old_flights.entry_id in shown_table
    audit = await run.json("audit")
    assert [(a["action"], a["operator"], a["via"], a["entry_id"]) for a in audit] == [
        ("replay", "ann", "cli", old_flights.entry_id),
        ("replay", "ann", "cli", old_hotel.entry_id),
    ]
    assert audit[1]["replayed_entry_id"] == done[0]["replayed_entry_id"]


async def test_discard_with_a_reason_is_recorded_and_leaves_the_list(
    client7: Redis,
    redis7_url: str,
    keys: BusKeys,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    letter = await dead_letter(client7, keys, "g1", "s1")
    kept = await dead_letter(client7, keys, "g2", "s2")
    run = Cli(redis7_url, keys, capsys)
    monkeypatch.setenv("TRAVEL_OPERATOR", "night-shift")

    with pytest.raises(SystemExit) as refused:
        await cli.main([*run.base, "dead-letters", "discard", letter.entry_id, "--reason", "  "])
    assert refused.value.code == 2
    discarded = await run.json(
        "dead-letters", "discard", letter.entry_id, "--reason", "hotel stay confirmed by phone"
    )
    assert (discarded["entry_id"], discarded["session_id"]) == (letter.entry_id, "s1")
    assert await run.json("dead-letters", "discard", letter.entry_id, "--reason", "again", code=1) is None
    assert [d["entry_id"] for d in await run.json("dead-letters", "list")] == [kept.entry_id]

    [action] = await run.json("audit", "--session", "s1")
    assert (action["action"], action["operator"], action["reason"]) == (
        "discard", "night-shift", "hotel stay confirmed by phone",
    )  # fmt: skip
    assert action["replayed_entry_id"] is None and action["step"] == "hotel.confirm"
    table = await run.table("audit")
    assert "discard" in table and "night-shift" in table
    assert await run.json("dead-letters", "show", letter.entry_id, code=1) is None


async def test_every_command_answers_one_json_document(
    client7: Redis, redis7_url: str, keys: BusKeys, capsys: pytest.CaptureFixture[str]
) -> None:
    letter = await dead_letter(client7, keys, "g1", "s1")
    run = Cli(redis7_url, keys, capsys)
    [record, *_] = await run.json("timeline", "g1")
    assert (record["saga_id"], record["outcome"]) == ("g1", "STARTED")
    [saga] = await run.json("session", "s1")
    assert saga["saga_id"] == "g1" and saga["records"]
    assert (await run.json("keys", "s1"))["partition"] == keys.partition_of("s1")
    entries = await run.json("entries", "hotel", "--session", "s1")
    assert entries[0]["fields"]["saga_id"] == "g1" and entries[0]["slip"]["sagaId"] == "g1"
    lag = await run.json("lag")
    assert {figures["participant"] for figures in lag} >= {"hotel"}
    assert await run.json("timeline", "missing", code=1) == []
    # --output after the command too.
    capsys.readouterr()
    assert await cli.main([*run.base, "dead-letters", "list", "--output", "json"]) == 0
    assert [d["entry_id"] for d in json.loads(capsys.readouterr().out)] == [letter.entry_id]
    replayed = await run.json("dead-letters", "replay", letter.entry_id, "--operator", "ann")
    assert replayed["entry_id"] == letter.entry_id and replayed["replayed_entry_id"]


def test_the_installed_command_runs(redis7_url: str, namespace: str) -> None:
    command = ROOT / ".venv" / "bin" / "travel-ops"
    if not command.exists():
        pytest.fail(f"{command} is missing: `make setup` writes it")
    env = {**os.environ, "REDIS_URL": redis7_url, "TRAVEL_NAMESPACE": namespace}
    shown = subprocess.run(
        [command, "--help"], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert "usage: travel-ops" in shown.stdout and "dead-letters" in shown.stdout
    audit = subprocess.run(
        [command, "--output", "json", "audit"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    assert json.loads(audit.stdout) == []
    # The module keeps working as before.
    module = subprocess.run(
        [sys.executable, "-m", "tools.bus_cli", "dead-letters", "list"],
        capture_output=True, text=True, timeout=60, check=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert "dead letters in" in module.stdout
