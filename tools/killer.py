"""The process killer: which process to SIGKILL next (pure), and the loop that does it."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tools.options import KillerSettings
from tools.supervised_system import SupervisedSystem
from tools.topology import Topology


def resolve_target(target: str, topology: Topology, rng: random.Random) -> str:
    """A process name as is; a role becomes one of its replicas at random."""
    names = [p.name for p in topology.processes]
    if target in names:
        return target
    replicas = [p.name for p in topology.of_role(target)]
    if not replicas:
        raise ValueError(f"no process named or playing {target!r}")
    return rng.choice(replicas)


@dataclass
class KillPlan:
    targets: Sequence[str]
    each_once: bool
    rng: random.Random
    _remaining: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._remaining = list(self.targets)
        self.rng.shuffle(self._remaining)

    def next_target(self) -> str | None:
        if not self.each_once:
            return self.rng.choice(list(self.targets))
        return self._remaining.pop() if self._remaining else None


@dataclass(frozen=True)
class Kill:
    name: str
    at_seconds: float
    down_seconds: float


class ProcessKiller:
    def __init__(self, system: SupervisedSystem, settings: KillerSettings, rng: random.Random) -> None:
        self.system = system
        self.settings = settings
        self.rng = rng
        self.plan = KillPlan(settings.targets, settings.each_once, rng)
        self.kills: list[Kill] = []

    async def run(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.every_seconds)
                return
            except TimeoutError:
                pass
            target = self.plan.next_target()
            if target is None:
                return
            name = resolve_target(target, self.system.topology, self.rng)
            killed_at = time.monotonic()
            await asyncio.to_thread(self.system.kill, name, self.settings.pause_seconds)
            await asyncio.to_thread(self.system.wait_running, name)
            self.kills.append(Kill(name, killed_at - started, time.monotonic() - killed_at))
