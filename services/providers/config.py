"""Provider settings from the environment: kind, port, database, hold window, payments and chaos."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.kit.db import database_url, schema_name
from services.kit.settings import ConfigError, Env
from services.providers.domain.chaos import ChaosSettings
from services.providers.domain.errors import InvalidField

KINDS = ("hotel", "flight", "payment")
DEFAULT_PORTS = {"hotel": 8081, "flight": 8082, "payment": 8083}


@dataclass(frozen=True)
class ProviderConfig:
    kind: str
    host: str
    port: int
    database_url: str
    schema: str | None
    hold_window_seconds: int = 900
    catalog_seed: str = "travel"
    public_url: str | None = None
    webhook_secret: str = "dev-webhook-secret"
    webhook_retry_base_ms: int = 500
    webhook_retry_max_ms: int = 60_000
    webhook_timeout_ms: int = 5_000
    auto_complete_ms: int | None = None
    auto_decline_rate: float = 0.0
    chaos: ChaosSettings = field(default_factory=ChaosSettings)

    @property
    def service(self) -> str:
        return f"provider_{self.kind}"

    @classmethod
    def from_env(cls, env: Env) -> ProviderConfig:
        kind = env.str("PROVIDER_KIND", "").lower()
        if kind not in KINDS:
            raise ConfigError(f"PROVIDER_KIND must be one of {', '.join(KINDS)}, got {kind!r}")
        service = f"provider_{kind}"
        url = database_url(env, service)
        auto_decline = env.float("PAYMENT_AUTO_DECLINE_RATE", 0.0, minimum=0.0)
        if auto_decline > 1.0:
            raise ConfigError(f"PAYMENT_AUTO_DECLINE_RATE must be within [0, 1], got {auto_decline}")
        auto_complete = env.optional("PAYMENT_AUTO_COMPLETE_MS")
        return cls(
            kind=kind,
            host=env.str("PROVIDER_HOST", "127.0.0.1"),
            port=_port(env, kind),
            database_url=url,
            schema=None if url.startswith("sqlite") else schema_name(env, service),
            hold_window_seconds=env.int("PROVIDER_HOLD_WINDOW_SECONDS", 900, minimum=1),
            catalog_seed=env.str("PROVIDER_CATALOG_SEED", "travel"),
            public_url=env.optional("PROVIDER_PUBLIC_URL"),
            webhook_secret=env.str("PAYMENT_WEBHOOK_SECRET", "dev-webhook-secret"),
            webhook_retry_base_ms=env.int("PAYMENT_WEBHOOK_RETRY_BASE_MS", 500, minimum=1),
            webhook_retry_max_ms=env.int("PAYMENT_WEBHOOK_RETRY_MAX_MS", 60_000, minimum=1),
            webhook_timeout_ms=env.int("PAYMENT_WEBHOOK_TIMEOUT_MS", 5_000, minimum=1),
            auto_complete_ms=None
            if auto_complete is None
            else env.int("PAYMENT_AUTO_COMPLETE_MS", 0, minimum=0),
            auto_decline_rate=auto_decline,
            chaos=_chaos(env),
        )


def _port(env: Env, kind: str) -> int:
    port = env.int("PROVIDER_PORT", DEFAULT_PORTS[kind], minimum=0)
    if port > 65535:
        raise ConfigError(f"PROVIDER_PORT must be <= 65535, got {port}")
    return port


def _chaos(env: Env) -> ChaosSettings:
    seed = env.optional("PROVIDER_CHAOS_SEED")
    try:
        return ChaosSettings(
            failure_rate=env.float("PROVIDER_FAILURE_RATE", 0.0),
            ambiguous_rate=env.float("PROVIDER_AMBIGUOUS_RATE", 0.0),
            latency_ms=env.int("PROVIDER_LATENCY_MS", 0),
            latency_jitter_ms=env.int("PROVIDER_LATENCY_JITTER_MS", 0),
            seed=None if seed is None else env.int("PROVIDER_CHAOS_SEED", 0),
            webhook_duplicate_rate=env.float("PAYMENT_WEBHOOK_DUPLICATE_RATE", 0.0),
            webhook_delay_ms=env.int("PAYMENT_WEBHOOK_DELAY_MS", 0),
        )
    except InvalidField as exc:
        raise ConfigError(f"chaos setting {exc.field}: {exc.message}") from None
