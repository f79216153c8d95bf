"""The bus's scaling on paper: bookings per master, masters for a rate, participant cores."""

import pytest

from tools.bus_scaling import (
    ShardModel,
    cores_for,
    hops_per_core,
    paper_model,
)


def test_a_master_carries_its_hops_divided_by_the_hops_of_a_booking() -> None:
    # A confirmed booking is three hops: hotel.confirm, flights.confirm, sessions.complete.
    assert ShardModel(1_500).bookings_per_s == 500
    assert ShardModel(2_500, hops_per_booking=10).bookings_per_s == 250


@pytest.mark.parametrize(("bookings", "masters"), [(0, 1), (100, 1), (500, 1), (501, 2), (10_000, 20)])
def test_masters_are_whole_and_at_least_one(bookings: int, masters: int) -> None:
    assert ShardModel(1_500).masters_for(bookings) == masters


def test_cpu_per_hop_gives_hops_per_core_and_cores_for_a_rate() -> None:
    assert hops_per_core(40) == 25_000
    # 1,000 bookings/s x 5 hops x 0.25 ms a hop = 1,250 ms of CPU a second.
    assert cores_for(1_000, 250, 5) == pytest.approx(1.25)


def test_the_printed_model_shows_its_arithmetic_and_flags_more_masters_than_partitions() -> None:
    lines = paper_model(1_500, 40, 250, partitions=8)
    assert lines[0] == "one master, measured : 1,500 hops/s / 3 hops a booking = 500 bookings/s"
    assert lines[1] == (
        "one master, Redis CPU: 1,000,000 / 40.0 ms per 1,000 hops = 25,000 hops/s = 8,333 bookings/s"
    )
    assert "1 / 2 / 20* (measured), 1 / 1 / 2 (Redis CPU)" in lines[2]
    # 10,000 bookings/s x 3 hops x 0.25 ms a hop = 7,500 ms of CPU a second.
    assert lines[3].endswith("0.1 / 0.8 / 7.5")
