"""A dead letter's name says which partition's stream holds it: p<partition>-<entry id>."""

from __future__ import annotations

import pytest

from bus.dead_letters import letter_location
from bus.keys import BusKeys, entry_name

KEYS = BusKeys("ns", partitions=8)


def test_a_name_round_trips_to_its_partition_and_entry() -> None:
    name = entry_name(7, "1795916205949-3")
    assert name == "p7-1795916205949-3"
    assert letter_location(KEYS, name) == (7, "1795916205949-3")


@pytest.mark.parametrize("name", ["1795916205949-3", "p8-1-0", "p-1-0", "p1-1", "p1-1-0x", "", "p1--1-0"])
def test_names_no_dead_letter_can_have_are_not_located(name: str) -> None:
    assert letter_location(KEYS, name) is None
