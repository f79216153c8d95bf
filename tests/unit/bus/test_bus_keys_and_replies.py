"""Key names and the defensive parsing of RESP2/RESP3 and Redis 6.2/7 reply shapes."""

from __future__ import annotations

import pytest

from bus.keys import BusKeys
from bus.replies import (
    next_entry_id,
    parse_autoclaim_reply,
    parse_delivery_counts,
    parse_read_reply,
)


def test_saga_keys_share_one_hash_tag() -> None:
    keys = BusKeys("ns1")
    assert keys.saga_steps("g1") == "ns1:saga:{g1}:steps"
    assert keys.saga_history("g1") == "ns1:saga:{g1}:history"
    assert keys.stream("hotel") == "ns1:stream:{hotel}"
    assert keys.delayed("hotel") == "ns1:delayed:{hotel}"
    assert all(k.startswith("ns1:") for k in (keys.dead_letters(), keys.participants()))


@pytest.mark.parametrize("bad", ["", "a{b", "a:b", "a b"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        BusKeys(bad)
    with pytest.raises(ValueError):
        BusKeys("ns").stream(bad)


def test_read_reply_resp2_and_resp3() -> None:
    entries = [("1-0", {"a": "1"}), ("2-0", None)]
    assert parse_read_reply([["s", entries]]) == entries
    assert parse_read_reply({"s": [entries]}) == entries
    assert parse_read_reply({"s": entries}) == entries
    assert parse_read_reply(None) == []
    assert parse_read_reply([[b"s", [(b"1-0", [b"a", b"1"])]]]) == [("1-0", {"a": "1"})]


def test_autoclaim_reply_shapes() -> None:
    redis7 = ["0-0", [("1-0", {"a": "1"})], ["3-0"]]
    redis62 = ["5-0", [("1-0", {"a": "1"}), None]]
    assert parse_autoclaim_reply(redis7) == ("0-0", [("1-0", {"a": "1"})], ["3-0"])
    assert parse_autoclaim_reply(redis62) == ("5-0", [("1-0", {"a": "1"})], [])


def test_delivery_counts_from_dicts_or_rows() -> None:
    dicts = [{"message_id": "1-0", "consumer": "c", "time_since_delivered": 5, "times_delivered": 3}]
    assert parse_delivery_counts(dicts) == {"1-0": 3}
    assert parse_delivery_counts([[b"1-0", b"c", 5, 4]]) == {"1-0": 4}


def test_next_entry_id() -> None:
    assert next_entry_id("5-9") == "5-10"
