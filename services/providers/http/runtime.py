"""What handlers reach through the app: config, clock, chaos, and the use cases opened at startup."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from services.providers.auto_complete import AutoCompleter
from services.providers.booking import Booking
from services.providers.chaos_control import ChaosControl
from services.providers.clock import OffsetClock
from services.providers.config import ProviderConfig
from services.providers.domain import requests
from services.providers.domain.errors import InvalidField
from services.providers.payments import Payments
from services.providers.store.idempotency import Effect, Transactions
from services.providers.webhooks import WebhookDispatcher

JSON = "application/json"


@dataclass
class Runtime:
    config: ProviderConfig
    clock: OffsetClock
    chaos: ChaosControl
    engine: AsyncEngine | None = None
    transactions: Transactions | None = None
    booking: Booking | None = None
    payments: Payments | None = None
    dispatcher: WebhookDispatcher | None = None
    auto_completer: AutoCompleter | None = None

    def require_engine(self) -> AsyncEngine:
        assert self.engine is not None, "the app is not started"
        return self.engine

    def require_transactions(self) -> Transactions:
        assert self.transactions is not None, "the app is not started"
        return self.transactions

    def require_booking(self) -> Booking:
        assert self.booking is not None, "not a hotel or flight instance"
        return self.booking

    def require_payments(self) -> Payments:
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
