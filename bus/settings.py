"""Consumer tuning knobs, with defaults that suit one laptop and a small deployment; the stuck-saga bound."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from bus.backoff import Retries, RetryPolicy
from bus.publisher import DEFAULT_RETENTION_MS
from kit.settings import Env, Number, Whole
from kit.shared_settings import PARTICIPANTS

UNEXPECTED_ATTEMPTS = 3


@dataclass(frozen=True)
class ConsumerSettings:
    """How a participant consumer reads, retries, claims and trims."""

    batch_size: int = 100  # also the bound on handlers running at once
    # An idle read waits this long at most; it ends sooner when a retry, claim or trim is due,
    # and stop() cuts it short.
    block_ms: int = 10_000
    claim_idle_ms: int = 30_000  # pending this long in a dead consumer -> claimed
    claim_interval_s: float = 30.0  # no faster than entries can become claimable
    max_deliveries: int = 10  # a message delivered more often than this is dead-lettered
    # Steps declaring Retries.BOUNDED, and bare handlers going forward.
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Steps declaring Retries.MUST_FINISH, and bare handlers compensating.
    compensation_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=20, max_delay_s=60.0)
    )
    # A step that raised something it does not declare (a bug) gets a few attempts, in case the
    # cause was passing after all, then goes to the dead letters with the error's type and message.
    unexpected_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=UNEXPECTED_ATTEMPTS, max_delay_s=5.0)
    )
    # A consumer wakes when its own retries fall due; this sweep finds the ones other replicas
    # scheduled and then died.
    promote_interval_s: float = 5.0
    trim_interval_s: float = 10.0
    retention_ms: int = DEFAULT_RETENTION_MS
    command_timeout_s: float = 5.0

    def policy(self, retries: Retries) -> RetryPolicy:
        """The numbers behind the retry policy a step declares."""
        return self.compensation_retry if retries == Retries.MUST_FINISH else self.retry

    def per_partition(self, partitions: int) -> ConsumerSettings:
        """The settings of each of `partitions` loops of one consumer: the idle wait and the sweeps
        for other replicas' retries and for trimming stretch by `partitions`, so an idle consumer
        wakes about as often as with one partition. Claims keep their pace: they bound how long a
        dead replica's entries wait."""
        if partitions == 1:
            return self
        return replace(
            self,
            block_ms=self.block_ms * partitions,
            promote_interval_s=self.promote_interval_s * partitions,
            trim_interval_s=self.trim_interval_s * partitions,
        )

    @property
    def read_timeout_s(self) -> float:
        """Socket timeout of the blocking reader: longer than BLOCK, so a block never times out."""
        return self.block_ms / 1000 + self.command_timeout_s


BUS_BUG_ATTEMPTS = Whole(
    name="BUS_BUG_ATTEMPTS",
    default=UNEXPECTED_ATTEMPTS,
    minimum=1,
    meaning="attempts of a step that raised an error it does not declare (a bug) before it is dead-lettered",
    readers=PARTICIPANTS,
)


# Sessions book a saga's first stuck check this long after its start; the expiry process judges with it.
STUCK_SAGA_AFTER_SECONDS = Number(
    name="STUCK_SAGA_AFTER_SECONDS",
    default=120.0,
    minimum=0.1,
    meaning="a saga step without progress (pending or retrying) this long is flagged stuck",
    readers=("sessions", "expiry"),
)


def stuck_saga_after(env: Env) -> timedelta:
    """How long a saga step may stay without progress (pending or retrying) before it is flagged stuck."""
    return timedelta(seconds=STUCK_SAGA_AFTER_SECONDS.read(env))
