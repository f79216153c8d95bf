"""Settings of the payments service, declared once and read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from kit.db import database_url, schema_name
from kit.settings import Env, Text
from kit.topology import gateway_url
from services.participant.config import ParticipantConfig
from services.payments.access import ACCESS

PAYMENT_WEBHOOK_URL = Text(
    name="PAYMENT_WEBHOOK_URL",
    shown_default="http://127.0.0.1:`GATEWAY_PORT`/v1/webhooks/payments",
    meaning="where the payment provider is told to send the webhooks of the payments this service starts",
    readers=("payments",),
)


@dataclass(frozen=True)
class PaymentsConfig:
    participant: ParticipantConfig
    database_url: str
    schema: str
    webhook_url: str

    @classmethod
    def from_env(cls, env: Env) -> PaymentsConfig:
        return cls(
            participant=ParticipantConfig.from_env(env, "payments", "payment", ACCESS.callers()),
            database_url=database_url(env, "payments"),
            schema=schema_name(env, "payments"),
            webhook_url=PAYMENT_WEBHOOK_URL.optional(env) or f"{gateway_url(env)}/v1/webhooks/payments",
        )
