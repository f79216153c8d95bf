"""The saga bus's scaling on paper: what one Redis master carries, and how many a booking rate needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# A confirmed booking of a stay and a round trip runs one confirm saga (services/sagas/definitions.py):
# hotel.confirm, flights.confirm, sessions.complete; a step is a hop.
CONFIRM_SAGA_HOPS = 3
BOOKING_RATES = (100, 1_000, 10_000)


def hops_per_core(cpu_ms_per_1000_hops: float) -> float:
    """Hops per second one core does when each 1,000 hops cost `cpu_ms_per_1000_hops` of its time."""
    return 1_000_000 / cpu_ms_per_1000_hops


def cores_for(bookings_per_s: float, cpu_ms_per_1000_hops: float, hops_per_booking: int) -> float:
    """Cores kept busy by `bookings_per_s` at that CPU cost per hop."""
    return bookings_per_s * hops_per_booking * cpu_ms_per_1000_hops / 1_000_000


@dataclass(frozen=True)
class ShardModel:
    """One shard, a Redis master on a core of its own, carrying `hops_per_s`."""

    hops_per_s: float
    hops_per_booking: int = CONFIRM_SAGA_HOPS

    @property
    def bookings_per_s(self) -> float:
        return self.hops_per_s / self.hops_per_booking

    def masters_for(self, bookings_per_s: float) -> int:
        """Whole masters for `bookings_per_s`, at least one."""
        return max(1, math.ceil(bookings_per_s / self.bookings_per_s))


def paper_model(
    measured_hops_per_s: float,
    redis_cpu_ms_per_1000_hops: float,
    participant_cpu_ms_per_1000_hops: float,
    partitions: int,
    rates: Sequence[int] = BOOKING_RATES,
    hops_per_booking: int = CONFIRM_SAGA_HOPS,
) -> list[str]:
    """The model as printed lines: per master at the measured rate and at Redis's own CPU ceiling,
    masters for each booking rate (flagging more than `partitions` allow), and participant cores."""
    measured = ShardModel(measured_hops_per_s, hops_per_booking)
    ceiling = ShardModel(hops_per_core(redis_cpu_ms_per_1000_hops), hops_per_booking)
    shown_rates = " / ".join(f"{rate:,}" for rate in rates)

    def masters(model: ShardModel) -> str:
        counts = [model.masters_for(rate) for rate in rates]
        return " / ".join(f"{count}{'*' if count > partitions else ''}" for count in counts)

    cores = " / ".join(
        f"{cores_for(rate, participant_cpu_ms_per_1000_hops, hops_per_booking):.1f}" for rate in rates
    )
    return [
        f"one master, measured : {measured.hops_per_s:,.0f} hops/s / {hops_per_booking} hops a booking "
        f"= {measured.bookings_per_s:,.0f} bookings/s",
        f"one master, Redis CPU: 1,000,000 / {redis_cpu_ms_per_1000_hops:.1f} ms per 1,000 hops "
        f"= {ceiling.hops_per_s:,.0f} hops/s = {ceiling.bookings_per_s:,.0f} bookings/s",
        f"masters for {shown_rates} bookings/s: {masters(measured)} (measured), "
        f"{masters(ceiling)} (Redis CPU); * more than P={partitions} allows",
        f"participant cores for {shown_rates} bookings/s at "
        f"{participant_cpu_ms_per_1000_hops:.1f} ms per 1,000 hops: {cores}",
    ]
