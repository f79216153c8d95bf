"""Key names and the defensive parsing of RESP2/RESP3 and Redis 6.2/7 reply shapes."""

from __future__ import annotations

import zlib
from collections import Counter

import pytest

from bus.keys import BusKeys
from bus.replies import (
    next_entry_id,
    parse_autoclaim_reply,
    parse_delivery_counts,
    parse_read_reply,
    parse_read_reply_by_stream,
)


def test_every_key_of_a_hop_carries_its_partition_tag() -> None:
    keys = BusKeys("ns1", partitions=4)
    assert keys.saga_steps(2, "g1") == "ns1:{p2}:saga:g1:steps"
    assert keys.saga_history(2, "g1") == "ns1:{p2}:saga:g1:history"
    assert keys.stream(2, "hotel") == "ns1:{p2}:stream:hotel"
    assert keys.delayed(2, "hotel") == "ns1:{p2}:delayed:hotel"
    assert keys.dead_letters(2) == "ns1:{p2}:dead-letters"
    session = "6f1c0a52-0d3e-4a0e-9a53-3c1b2b7e9e10"
    assert keys.session_sagas(session) == f"ns1:{{p{keys.partition_of(session)}}}:session:{session}:sagas"
    assert keys.participants().startswith("ns1:")


def test_partition_of_is_a_stable_hash_spread_over_every_partition() -> None:
    keys = BusKeys("ns1", partitions=8)
    # crc32, so every process and every restart agrees (Python's hash() is salted per process).
    assert keys.partition_of("session-1") == zlib.crc32(b"session-1") % 8
    spread = Counter(keys.partition_of(f"session-{n}") for n in range(8000))
    assert set(spread) == set(range(8))
    assert min(spread.values()) > 800, spread
    assert BusKeys("ns1", partitions=1).partition_of("anything") == 0


@pytest.mark.parametrize("bad", [0, -1, 1025])
def test_partition_counts_out_of_range_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="partitions"):
        BusKeys("ns", partitions=bad)


def test_partitions_outside_the_count_are_refused() -> None:
    with pytest.raises(ValueError, match="partition 4"):
        BusKeys("ns", partitions=4).stream(4, "hotel")


@pytest.mark.parametrize("bad", ["", "a{b", "a:b", "a b"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        BusKeys(bad)
    with pytest.raises(ValueError):
        BusKeys("ns").stream(0, bad)


def test_read_reply_resp2_and_resp3() -> None:
    entries = [("1-0", {"a": "1"}), ("2-0", None)]
    assert parse_read_reply([["s", entries]]) == entries
    assert parse_read_reply({"s": [entries]}) == entries
    assert parse_read_reply({"s": entries}) == entries
    assert parse_read_reply(None) == []
    assert parse_read_reply([[b"s", [(b"1-0", [b"a", b"1"])]]]) == [("1-0", {"a": "1"})]


def test_read_reply_of_several_streams_keeps_each_streams_entries() -> None:
    first, second = [("1-0", {"a": "1"})], [("1-0", {"b": "2"}), ("2-0", None)]
    assert parse_read_reply_by_stream([["s0", first], [b"s1", second]]) == {"s0": first, "s1": second}
    assert parse_read_reply_by_stream({"s0": [first], "s1": [second]}) == {"s0": first, "s1": second}
    assert parse_read_reply_by_stream(None) == {}


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
