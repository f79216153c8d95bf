"""What handlers reach through the app: config, clock, chaos, and the use cases opened at startup."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kit.database import Database
from simulated_world.providers.auto_complete import AutoCompleter
from simulated_world.providers.booking import Booking
from simulated_world.providers.chaos_control import ChaosControl
from simulated_world.providers.clock import OffsetClock
from simulated_world.providers.config import ProviderConfig
from simulated_world.providers.domain import requests
from simulated_world.providers.domain.errors import InvalidField
from simulated_world.providers.payments import ProviderPayments
from simulated_world.providers.store.idempotency import Effect, Transactions
from simulated_world.providers.webhooks import WebhookDispatcher

JSON = "application/json"


@dataclass
class Runtime:
    config: ProviderConfig
    clock: OffsetClock
    chaos: ChaosControl
    database: Database | None = None
    transactions: Transactions | None = None
    booking: Booking | None = None
    payments: ProviderPayments | None = None
    dispatcher: WebhookDispatcher | None = None
    auto_completer: AutoCompleter | None = None

    def require_database(self) -> Database:
        assert self.database is not None, "the app is not started"
        return self.database

    def require_transactions(self) -> Transactions:
        assert self.transactions is not None, "the app is not started"
        return self.transactions

    def require_booking(self) -> Booking:
        assert self.booking is not None, "not a hotel or flight instance"
        return self.booking

    def require_payments(self) -> ProviderPayments:
        assert self.payments is not None, "not a payment instance"
        return self.payments


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, media_type=JSON)


async def read_body(request: Request, required: bool = True) -> dict[str, Any]:
    """The JSON object in the body; an empty body is {} when the route allows it."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise InvalidField("body", "a JSON object body is required")
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidField("body", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidField("body", "the body must be a JSON object")
    return body


def base_url(request: Request) -> str:
    configured = runtime(request).config.public_url
    return (configured or str(request.base_url)).rstrip("/")


async def mutate(request: Request, operation: str, body: dict[str, Any], effect: Effect) -> Response:
    """Run a mutating effect under the request's Idempotency-Key (if any) and answer its outcome."""
    key = requests.idempotency_key(request.headers.get("Idempotency-Key"))
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(f"{request.method} {request.url.path} {canonical}".encode()).hexdigest()
    stored = await runtime(request).require_transactions().run(key, operation, fingerprint, effect)
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
    return Response(stored.body, stored.status, headers=headers, media_type=JSON)


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params)
