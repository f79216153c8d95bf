"""Settings of the payments service, read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from services.booking.config import BookingConfig
from services.kit.db import database_url, schema_name
from services.kit.settings import Env


@dataclass(frozen=True)
class PaymentsConfig:
    booking: BookingConfig
    database_url: str
    schema: str
    webhook_url: str

    @classmethod
    def from_env(cls, env: Env) -> PaymentsConfig:
        gateway_port = env.int("GATEWAY_PORT", 8080, minimum=1)
        return cls(
            booking=BookingConfig.from_env(env, "payments", "payment"),
            database_url=database_url(env, "payments"),
            schema=schema_name(env, "payments"),
            webhook_url=env.str(
                "PAYMENT_WEBHOOK_URL", f"http://127.0.0.1:{gateway_port}/v1/webhooks/payments"
            ),
        )
