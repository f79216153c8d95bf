"""Waiting until a deadline watcher's subscription is live, for the schedule's tests."""

from __future__ import annotations

from bus.ports import DeadlineScheduler
from tests.support.polling import eventually


async def hear_a_probe(schedule: DeadlineScheduler, heard: list[int], timeout: float) -> int:
    """Schedule ever earlier `probe` deadlines until the watcher filling `heard` hears one (a
    subscription starts on its own time); answers the last probe's deadline."""
    probe = 10**12

    async def heard_a_probe() -> list[int]:
        nonlocal probe
        if not heard:  # once one is heard, no further probe: it would be heard later
            probe -= 1
            await schedule.schedule("probe", probe)
        return heard

    await eventually(heard_a_probe, timeout=timeout, what="the watcher to hear a deadline", interval=0.01)
    return probe
