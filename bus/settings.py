"""Consumer tuning knobs, with defaults that suit one laptop and a small deployment."""

from __future__ import annotations

from dataclasses import dataclass, field

from bus.backoff import RetryPolicy
from bus.publisher import DEFAULT_RETENTION_MS


@dataclass(frozen=True)
class ConsumerSettings:
    """How a participant consumer reads, retries, claims and trims."""

    batch_size: int = 100  # also the bound on handlers running at once
    block_ms: int = 100  # short, so a stop request is honoured quickly
    claim_idle_ms: int = 30_000  # pending this long in a dead consumer -> claimed
    claim_interval_s: float = 5.0
    max_deliveries: int = 10  # a message delivered more often than this is dead-lettered
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    compensation_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=20, max_delay_s=60.0)
    )
    promote_interval_s: float = 0.05
    trim_interval_s: float = 10.0
    retention_ms: int = DEFAULT_RETENTION_MS
    command_timeout_s: float = 5.0

    @property
    def read_timeout_s(self) -> float:
        """Socket timeout of the blocking reader: longer than BLOCK, so a block never times out."""
        return self.block_ms / 1000 + self.command_timeout_s
