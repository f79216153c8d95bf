"""The instance's live chaos settings and its seeded random, changed at runtime by /admin/chaos."""

from __future__ import annotations

import random
from typing import Any

from simulated_world.providers.domain.chaos import ChaosDecision, ChaosSettings, decide, webhook_copies


class ChaosControl:
    def __init__(self, settings: ChaosSettings) -> None:
        self.settings = settings
        self._random = random.Random(settings.seed)

    def update(self, changes: dict[str, Any]) -> ChaosSettings:
        """Apply a partial update; a `seed` in it restarts the random sequence from that seed."""
        self.settings = self.settings.merged(changes)
        if "seed" in changes:
            self._random = random.Random(self.settings.seed)
        return self.settings

    def next_request(self) -> ChaosDecision:
        return decide(self.settings, self._random)

    def webhook_copies(self) -> int:
        return webhook_copies(self.settings, self._random)

    def webhook_delay_seconds(self) -> float:
        return self.settings.webhook_delay_ms / 1000
