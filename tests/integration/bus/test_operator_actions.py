"""Replays and discards of real dead letters, each recorded with who, when and why, in the letter's slot."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from bus.dead_letters import discard_dead_letter, list_dead_letters, replay_dead_letter
from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.operator_actions import ActionKind, Audit, list_operator_actions
from tests.support.dead_letters import dead_letter


async def test_a_replay_and_a_discard_are_each_recorded_once(client: Redis, keys: BusKeys) -> None:
    replayed = await dead_letter(client, keys, "g1", "s1")
    discarded = await dead_letter(client, keys, "g2", "s2", failing="flights")
    before = time.time()

    alice = Audit(operator="alice", via="cli")
    new_id = await replay_dead_letter(client, keys, replayed.entry_id, audit=alice)
    assert new_id is not None
    assert await replay_dead_letter(client, keys, replayed.entry_id, audit=alice) is None, "replayed once"
    bob = Audit(operator="bob", via="cli", reason="flights refunded by hand")
    assert await discard_dead_letter(client, keys, discarded.entry_id, bob) == discarded
    assert await discard_dead_letter(client, keys, discarded.entry_id, bob) is None, "discarded once"

    assert await list_dead_letters(client, keys) == []
    discard, replay = await list_operator_actions(client, keys)  # newest first
    assert (replay.action, replay.operator, replay.via) == (ActionKind.REPLAY, "alice", "cli")
    assert (replay.entry_id, replay.saga_id, replay.session_id) == (replayed.entry_id, "g1", "s1")
    assert (replay.step, replay.participant, replay.replayed_entry_id) == ("hotel.confirm", "hotel", new_id)
    assert replay.error == replayed.error
    assert (discard.action, discard.operator, discard.reason) == (ActionKind.DISCARD, "bob", bob.reason)
    assert (discard.step, discard.session_id, discard.replayed_entry_id) == ("flights.confirm", "s2", "")
    assert discard.at.timestamp() >= before - 1
    # A discard sends nothing: the saga's history ends with the dead letter.
    assert (await read_history(client, keys, "g2"))[-1].event == HistoryEvent.DEAD_LETTERED
    assert (await read_history(client, keys, "g1"))[-1].event == HistoryEvent.REPLAYED


async def test_a_replay_without_an_operator_records_nothing(client: Redis, keys: BusKeys) -> None:
    letter = await dead_letter(client, keys, "g1", "s1")
    assert await replay_dead_letter(client, keys, letter.entry_id) is not None
    assert await list_operator_actions(client, keys) == []


async def test_a_discard_needs_a_reason_and_an_operator(client: Redis, keys: BusKeys) -> None:
    letter = await dead_letter(client, keys, "g1", "s1")
    with pytest.raises(ValueError, match="reason"):
        await discard_dead_letter(client, keys, letter.entry_id, Audit(operator="alice", via="cli"))
    with pytest.raises(ValueError, match="operator"):
        Audit(operator=" ", via="cli", reason="why")
    assert await list_dead_letters(client, keys) == [letter]
