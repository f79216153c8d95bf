"""The load driver's options: command line (and so make variables) to one frozen value. Pure."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bus.backoff import RetryPolicy
from kit.settings import Env
from kit.shared_settings import DATABASE_URL, REDIS_URL
from tools.topology import KILLABLE

# A run retries quickly: no step waits more than 2 s between attempts.
LOAD_RETRY_BASE_DELAY_SECONDS = 0.05
LOAD_RETRY_MAX_DELAY_SECONDS = 2.0
# A release makes two provider calls an attempt (the listing, then a cancel), so at 30% failures
# plus 10% ambiguous ones an attempt fails about 6 times in 10 (46 of 78 first attempts, six chaos
# runs with kills). The services' 20 attempts then leave one release in about 55,000 to an
# operator, and a run of 100 bookings makes some 26 releases: a chaos run once ended with a
# session in NEEDS_ATTENTION that way. Up to 60 s apart, the services' 20 attempts span about ten
# minutes; 2 s apart, 40 span about a minute, within the run's stuck bound, and leave one release
# in billions.
LOAD_COMPENSATION_ATTEMPTS = 40


def quick_retries(retry_attempts: int = RetryPolicy().max_attempts) -> dict[str, str]:
    """The bus's retry settings of a run under chaos: pauses of 2 s at most, so every session
    settles within a minute or two, and a compensation budget sized for such pauses."""
    return {
        # At 30% failures plus 10% ambiguous ones a confirm attempt fails about half the time: a
        # budget of 8 dead-letters about one confirm in 250 (a chaos run of 100 bookings then
        # often ends with one session waiting for an operator); the services' 16, one in 65,000.
        "BUS_RETRY_ATTEMPTS": str(retry_attempts),
        "BUS_COMPENSATION_ATTEMPTS": str(max(retry_attempts, LOAD_COMPENSATION_ATTEMPTS)),
        "BUS_RETRY_BASE_DELAY_SECONDS": str(LOAD_RETRY_BASE_DELAY_SECONDS),
        "BUS_RETRY_MAX_DELAY_SECONDS": str(LOAD_RETRY_MAX_DELAY_SECONDS),
        "BUS_COMPENSATION_MAX_DELAY_SECONDS": str(LOAD_RETRY_MAX_DELAY_SECONDS),
    }


@dataclass(frozen=True)
class ChaosRequest:
    """What each provider's `PUT /admin/chaos` receives."""

    failure_rate: float = 0.0
    ambiguous_rate: float = 0.0
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    webhook_duplicate_rate: float = 0.0
    webhook_delay_ms: int = 0
    seed: int | None = None

    def as_body(self) -> dict[str, float | int]:
        body: dict[str, float | int] = {
            "failureRate": self.failure_rate,
            "ambiguousRate": self.ambiguous_rate,
            "latencyMs": self.latency_ms,
            "latencyJitterMs": self.latency_jitter_ms,
            "webhookDuplicateRate": self.webhook_duplicate_rate,
            "webhookDelayMs": self.webhook_delay_ms,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        return body


@dataclass(frozen=True)
class KillerSettings:
    every_seconds: float = 0.0
    pause_seconds: float = 2.0
    targets: tuple[str, ...] = tuple(sorted(KILLABLE))
    each_once: bool = False

    @property
    def enabled(self) -> bool:
        return self.every_seconds > 0


@dataclass(frozen=True)
class LoadOptions:
    customers: int = 8
    duration_seconds: float = 60.0
    bookings: int = 0  # 0: as many as fit in the duration
    rate: float = 0.0  # trips started per second; 0: as fast as the customers go
    replicas: int = 1
    database_url: str | None = None
    redis_url: str | None = None
    own_redis: bool = False
    default_ports: bool = False
    chaos: ChaosRequest = field(default_factory=ChaosRequest)
    killer: KillerSettings = field(default_factory=KillerSettings)
    decline_rate: float = 0.1
    hosted_form_share: float = 0.5
    session_ttl_seconds: int = 60
    claim_idle_ms: int = 2000
    retry_attempts: int = RetryPolicy().max_attempts
    stuck_after_seconds: float = 120.0
    settle_seconds: float = 30.0
    seed: int | None = None
    keep_data: bool = False
    log_level: str = "WARNING"
    at_rest_seconds: float = 0.0  # 0: the system at rest is not measured
    at_rest_after_seconds: float = 30.0
    results_json: str | None = None

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError("customers must be at least 1")
        if self.rate < 0 or self.at_rest_seconds < 0 or self.at_rest_after_seconds < 0:
            raise ValueError("rate and at-rest seconds must not be negative")
        if self.chaos.failure_rate + self.chaos.ambiguous_rate > 1:
            raise ValueError("failure rate + ambiguous rate must not exceed 1")
        if self.replicas > 1 and not self.database_url:
            raise ValueError("replicas need DATABASE_URL (PostgreSQL): they share their databases")
        unknown = [t for t in self.killer.targets if t.split("-")[0] not in KILLABLE]
        if unknown:
            raise ValueError(f"cannot kill {unknown}: the killer aims at {sorted(KILLABLE)}")

    def system_env(self) -> dict[str, str]:
        """Settings of every process for a run: cheap password hashing, quick claims and retries."""
        return {
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "8192",
            # A load generator: every simulated customer signs up from this one machine, and under
            # kills a customer may leave sessions open faster than they settle.
            "LOGIN_LIMIT_PER_ADDRESS": "1000000",
            "REGISTER_LIMIT_PER_ADDRESS": "1000000",
            "OPEN_SESSIONS_PER_CUSTOMER": "1000",
            # Each customer follows its booking on an event stream until the booking ends.
            "GATEWAY_STREAMS_TOTAL": str(max(200, 2 * self.customers)),
            "SESSION_TTL_SECONDS": str(self.session_ttl_seconds),
            # Claims sweep at the claim idle time (the default): a faster sweep would find nothing more.
            "BUS_CLAIM_IDLE_MS": str(self.claim_idle_ms),
            **quick_retries(self.retry_attempts),
            "EXPIRY_LEASE_SECONDS": "5",
            "PAYMENT_WEBHOOK_RETRY_BASE_MS": "200",
            "PAYMENT_WEBHOOK_RETRY_MAX_MS": "2000",
            "LOG_LEVEL": self.log_level,
        }


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not within [0, 1]")
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.load",
        description="Simulated customers booking through the gateway, under chaos and process kills.",
    )
    p.add_argument("--customers", type=int, default=8, help="concurrent simulated customers")
    p.add_argument(
        "--duration", type=float, default=60.0, help="seconds of booking (new trips start until then)"
    )
    p.add_argument("--bookings", type=int, default=0, help="stop after this many trips (0: no limit)")
    p.add_argument(
        "--rate", type=float, default=0.0, help="start at most this many trips per second (0: no pacing)"
    )
    p.add_argument(
        "--replicas", type=int, default=1, help="replicas of sessions, hotel, flights, payments, expiry"
    )
    p.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (default: $DATABASE_URL; else SQLite)"
    )
    p.add_argument(
        "--redis-url", default=None, help="default: $REDIS_URL, else 127.0.0.1:6379, else embedded"
    )
    p.add_argument(
        "--own-redis",
        action="store_true",
        help="start a Redis of the run's own (its CPU is then the system's alone), whatever answers",
    )
    p.add_argument(
        "--default-ports", action="store_true", help="listen on 8080, 5005x, 808x instead of free ports"
    )
    chaos = p.add_argument_group("provider chaos (PUT /admin/chaos on every provider)")
    chaos.add_argument("--failure-rate", type=_rate, default=0.0)
    chaos.add_argument("--ambiguous-rate", type=_rate, default=0.0)
    chaos.add_argument("--latency-ms", type=int, default=0)
    chaos.add_argument("--latency-jitter-ms", type=int, default=0)
    chaos.add_argument("--webhook-duplicate-rate", type=_rate, default=0.0)
    chaos.add_argument("--webhook-delay-ms", type=int, default=0)
    chaos.add_argument("--chaos-seed", type=int, default=None)
    killer = p.add_argument_group("process killer")
    killer.add_argument(
        "--kill-every", type=float, default=0.0, help="SIGKILL a process every k seconds (0: off)"
    )
    killer.add_argument("--kill-pause", type=float, default=2.0, help="seconds a killed process stays down")
    killer.add_argument(
        "--kill-targets",
        type=_names,
        default=tuple(sorted(KILLABLE)),
        help="comma-separated roles (a random replica) or process names such as hotel-2",
    )
    killer.add_argument("--kill-each-once", action="store_true", help="kill every target once, then stop")
    customers = p.add_argument_group("customers")
    customers.add_argument("--decline-rate", type=_rate, default=0.1)
    customers.add_argument(
        "--hosted-form-share", type=_rate, default=0.5, help="share paid on the hosted page"
    )
    bounds = p.add_argument_group("bounds")
    bounds.add_argument("--session-ttl", type=int, default=60, help="SESSION_TTL_SECONDS of the system")
    bounds.add_argument("--claim-idle-ms", type=int, default=2000, help="BUS_CLAIM_IDLE_MS of the system")
    bounds.add_argument(
        "--retry-attempts",
        type=int,
        default=RetryPolicy().max_attempts,
        help="BUS_RETRY_ATTEMPTS (and compensation) of the system",
    )
    bounds.add_argument(
        "--stuck-after",
        type=float,
        default=120.0,
        help="a session not terminal this long after the last booking ended is stuck",
    )
    bounds.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds a broken-looking session may take to settle (late refunds, releases)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the customers' choices")
    p.add_argument("--keep-data", action="store_true", help="keep the data folder and the logs")
    p.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of every process")
    cost = p.add_argument_group("cost")
    cost.add_argument(
        "--at-rest",
        type=float,
        default=0.0,
        help="before any traffic, measure the system's CPU over this many seconds (0: do not)",
    )
    cost.add_argument(
        "--at-rest-after", type=float, default=30.0, help="seconds after the system is up that it starts"
    )
    cost.add_argument("--results-json", default=None, help="also write the figures to this file (JSON)")
    return p


def parse_options(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> LoadOptions:
    env = Env(environ)
    args = parser().parse_args(list(argv))
    try:
        return LoadOptions(
            customers=args.customers,
            duration_seconds=args.duration,
            bookings=args.bookings,
            rate=args.rate,
            replicas=args.replicas,
            database_url=args.database_url or DATABASE_URL.optional(env),
            redis_url=args.redis_url or REDIS_URL.optional(env),
            own_redis=args.own_redis,
            default_ports=args.default_ports,
            chaos=ChaosRequest(
                failure_rate=args.failure_rate,
                ambiguous_rate=args.ambiguous_rate,
                latency_ms=args.latency_ms,
                latency_jitter_ms=args.latency_jitter_ms,
                webhook_duplicate_rate=args.webhook_duplicate_rate,
                webhook_delay_ms=args.webhook_delay_ms,
                seed=args.chaos_seed,
            ),
            killer=KillerSettings(
                every_seconds=args.kill_every,
                pause_seconds=args.kill_pause,
                targets=args.kill_targets,
                each_once=args.kill_each_once,
            ),
            decline_rate=args.decline_rate,
            hosted_form_share=args.hosted_form_share,
            session_ttl_seconds=args.session_ttl,
            claim_idle_ms=args.claim_idle_ms,
            retry_attempts=args.retry_attempts,
            stuck_after_seconds=args.stuck_after,
            settle_seconds=args.settle,
            seed=args.seed,
            keep_data=args.keep_data,
            log_level=args.log_level,
            at_rest_seconds=args.at_rest,
            at_rest_after_seconds=args.at_rest_after,
            results_json=args.results_json,
        )
    except ValueError as error:
        parser().error(str(error))
        raise  # unreachable: error() exits
