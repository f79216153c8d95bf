"""Provider settings, declared once: kind, port, database, hold window, payments and chaos."""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.db import database_url, schema_name
from kit.http_server import HttpServerLimits
from kit.settings import ConfigError, Env, Number, Text, Whole
from kit.shared_settings import PROVIDER_HOLD_WINDOW_SECONDS
from kit.topology import PROVIDER_HOST, PROVIDER_KINDS, PROVIDER_PORT, PROVIDER_PORT_OF, PROVIDERS
from kit.webhook_secret import webhook_secret
from simulated_world.providers.admin_access import admin_token
from simulated_world.providers.domain.chaos import ChaosSettings
from simulated_world.providers.domain.errors import InvalidField

KINDS = PROVIDER_KINDS
PAYMENT = ("provider-payment",)
# The domain's own defaults are the chaos settings' defaults.
_CHAOS = ChaosSettings()

PROVIDER_KIND = Text(
    name="PROVIDER_KIND",
    shown_default="required",
    meaning="which provider this process plays: `hotel`, `flight` or `payment`",
    readers=PROVIDERS,
)
PROVIDER_CATALOG_SEED = Text(
    name="PROVIDER_CATALOG_SEED",
    default="travel",
    meaning="seed of the generated hotel and flight catalogue",
    readers=PROVIDERS,
)
PROVIDER_PUBLIC_URL = Text(
    name="PROVIDER_PUBLIC_URL",
    shown_default="the address it listens on",
    meaning="the provider's address as browsers reach it (the hosted checkout page's links)",
    readers=PROVIDERS,
)
PROVIDER_ADMIN_PORT = Whole(
    name="PROVIDER_ADMIN_PORT",
    minimum=1,
    maximum=65535,
    shown_default="unset: `/admin` on the main port",
    meaning="serve `/admin/*` only on this port of its own",
    readers=PROVIDERS,
)
PAYMENT_WEBHOOK_RETRY_BASE_MS = Whole(
    name="PAYMENT_WEBHOOK_RETRY_BASE_MS",
    default=500,
    minimum=1,
    meaning="first delay before a webhook the gateway did not accept is sent again",
    readers=PAYMENT,
)
PAYMENT_WEBHOOK_RETRY_MAX_MS = Whole(
    name="PAYMENT_WEBHOOK_RETRY_MAX_MS",
    default=60_000,
    minimum=1,
    meaning="longest delay between webhook attempts",
    readers=PAYMENT,
)
PAYMENT_WEBHOOK_TIMEOUT_MS = Whole(
    name="PAYMENT_WEBHOOK_TIMEOUT_MS",
    default=5_000,
    minimum=1,
    meaning="how long one webhook delivery may take",
    readers=PAYMENT,
)
PAYMENT_AUTO_COMPLETE_MS = Whole(
    name="PAYMENT_AUTO_COMPLETE_MS",
    minimum=0,
    shown_default="unset: paid by hand",
    meaning="complete every payment this long after it starts, as if the customer paid",
    readers=PAYMENT,
)
PAYMENT_AUTO_DECLINE_RATE = Number(
    name="PAYMENT_AUTO_DECLINE_RATE",
    default=0.0,
    minimum=0.0,
    maximum=1.0,
    meaning="share of auto-completed payments declined instead",
    readers=PAYMENT,
)
PROVIDER_FAILURE_RATE = Number(
    name="PROVIDER_FAILURE_RATE",
    default=_CHAOS.failure_rate,
    meaning="share of requests answered 503 before doing anything (chaos)",
    readers=PROVIDERS,
)
PROVIDER_AMBIGUOUS_RATE = Number(
    name="PROVIDER_AMBIGUOUS_RATE",
    default=_CHAOS.ambiguous_rate,
    meaning="share of requests whose work commits, then fails with a 500 or a dropped connection (chaos)",
    readers=PROVIDERS,
)
PROVIDER_LATENCY_MS = Whole(
    name="PROVIDER_LATENCY_MS",
    default=_CHAOS.latency_ms,
    meaning="delay added to every request (chaos)",
    readers=PROVIDERS,
)
PROVIDER_LATENCY_JITTER_MS = Whole(
    name="PROVIDER_LATENCY_JITTER_MS",
    default=_CHAOS.latency_jitter_ms,
    meaning="random extra delay, up to this (chaos)",
    readers=PROVIDERS,
)
PROVIDER_CHAOS_SEED = Whole(
    name="PROVIDER_CHAOS_SEED",
    shown_default="unset: random",
    meaning="seed of the chaos decisions, so a run can be replayed",
    readers=PROVIDERS,
)
PAYMENT_WEBHOOK_DUPLICATE_RATE = Number(
    name="PAYMENT_WEBHOOK_DUPLICATE_RATE",
    default=_CHAOS.webhook_duplicate_rate,
    meaning="share of webhooks sent twice (chaos)",
    readers=PAYMENT,
)
PAYMENT_WEBHOOK_DELAY_MS = Whole(
    name="PAYMENT_WEBHOOK_DELAY_MS",
    default=_CHAOS.webhook_delay_ms,
    meaning="delay before each webhook (chaos)",
    readers=PAYMENT,
)


@dataclass(frozen=True)
class ProviderConfig:
    kind: str
    host: str
    port: int
    database_url: str
    schema: str | None
    hold_window_seconds: int = PROVIDER_HOLD_WINDOW_SECONDS.default_value
    catalog_seed: str = PROVIDER_CATALOG_SEED.default_value
    public_url: str | None = None
    # Signs the payment provider's webhooks; the other kinds send none.
    webhook_secret: str = ""
    webhook_retry_base_ms: int = PAYMENT_WEBHOOK_RETRY_BASE_MS.default_value
    webhook_retry_max_ms: int = PAYMENT_WEBHOOK_RETRY_MAX_MS.default_value
    webhook_timeout_ms: int = PAYMENT_WEBHOOK_TIMEOUT_MS.default_value
    auto_complete_ms: int | None = None
    auto_decline_rate: float = PAYMENT_AUTO_DECLINE_RATE.default_value
    chaos: ChaosSettings = field(default_factory=ChaosSettings)
    # Guards /admin/*; None (development only) leaves it open.
    admin_token: str | None = field(default=None, repr=False)
    # When set, /admin/* is served on this port only, apart from the public one.
    admin_port: int | None = None
    http: HttpServerLimits = field(default_factory=HttpServerLimits)

    @property
    def service(self) -> str:
        return f"provider_{self.kind}"

    @classmethod
    def from_env(cls, env: Env) -> ProviderConfig:
        env.mode()  # an unknown TRAVEL_ENV stops every provider, even one that holds no secret
        kind = (PROVIDER_KIND.optional(env) or "").lower()
        if kind not in KINDS:
            raise ConfigError(f"PROVIDER_KIND must be one of {', '.join(KINDS)}, got {kind!r}")
        service = f"provider_{kind}"
        url = database_url(env, service)
        return cls(
            kind=kind,
            host=PROVIDER_HOST.read(env),
            port=_port(env, kind),
            database_url=url,
            schema=None if url.startswith("sqlite") else schema_name(env, service),
            hold_window_seconds=PROVIDER_HOLD_WINDOW_SECONDS.read(env),
            catalog_seed=PROVIDER_CATALOG_SEED.read(env),
            public_url=PROVIDER_PUBLIC_URL.optional(env),
            webhook_secret=webhook_secret(env) if kind == "payment" else "",
            webhook_retry_base_ms=PAYMENT_WEBHOOK_RETRY_BASE_MS.read(env),
            webhook_retry_max_ms=PAYMENT_WEBHOOK_RETRY_MAX_MS.read(env),
            webhook_timeout_ms=PAYMENT_WEBHOOK_TIMEOUT_MS.read(env),
            auto_complete_ms=PAYMENT_AUTO_COMPLETE_MS.optional(env),
            auto_decline_rate=PAYMENT_AUTO_DECLINE_RATE.read(env),
            chaos=_chaos(env),
            admin_token=admin_token(env),
            admin_port=_admin_port(env, kind),
            http=HttpServerLimits.from_env(env, "PROVIDER"),
        )


def _admin_port(env: Env, kind: str) -> int | None:
    port = PROVIDER_ADMIN_PORT.optional(env)
    if port is not None and port == _port(env, kind):
        raise ConfigError(f"PROVIDER_ADMIN_PORT must be a port of its own (1-65535), got {port}")
    return port


def _port(env: Env, kind: str) -> int:
    """PROVIDER_PORT, else where the provider's clients look for it (`<KIND>_PROVIDER_PORT`)."""
    port = PROVIDER_PORT.optional(env)
    return PROVIDER_PORT_OF[kind].read(env) if port is None else port


def _chaos(env: Env) -> ChaosSettings:
    try:
        return ChaosSettings(
            failure_rate=PROVIDER_FAILURE_RATE.read(env),
            ambiguous_rate=PROVIDER_AMBIGUOUS_RATE.read(env),
            latency_ms=PROVIDER_LATENCY_MS.read(env),
            latency_jitter_ms=PROVIDER_LATENCY_JITTER_MS.read(env),
            seed=PROVIDER_CHAOS_SEED.optional(env),
            webhook_duplicate_rate=PAYMENT_WEBHOOK_DUPLICATE_RATE.read(env),
            webhook_delay_ms=PAYMENT_WEBHOOK_DELAY_MS.read(env),
        )
    except InvalidField as exc:
        raise ConfigError(f"chaos setting {exc.field}: {exc.message}") from None
