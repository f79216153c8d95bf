"""Operator routes on every instance: /healthz, /admin/chaos, /admin/clock, and /admin/webhooks on payment."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.providers import representations as present
from services.providers.domain.errors import InvalidField
from services.providers.http.runtime import json_response, query, read_body, runtime
from services.providers.store.tables import webhook_deliveries


async def healthz(request: Request) -> Response:
    ctx = runtime(request)
    return json_response({"status": "ok", "kind": ctx.config.kind})


async def get_chaos(request: Request) -> Response:
    return json_response(runtime(request).chaos.settings.to_json())


async def put_chaos(request: Request) -> Response:
    body = await read_body(request)
    return json_response(runtime(request).chaos.update(body).to_json())


def _clock_body(request: Request) -> dict[str, object]:
    clock = runtime(request).clock
    return {"offsetSeconds": clock.offset_seconds, "now": present.timestamp(clock.now())}


async def get_clock(request: Request) -> Response:
    return json_response(_clock_body(request))


async def put_clock(request: Request) -> Response:
    body = await read_body(request)
    offset = body.get("offsetSeconds")
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        raise InvalidField("offsetSeconds", "offsetSeconds is required and must be a number")
    runtime(request).clock.offset_seconds = float(offset)
    return json_response(_clock_body(request))


async def list_webhooks(request: Request) -> Response:
    """The webhook outbox, newest last: what was sent, how often, and whether a 2xx came back."""
    params = query(request)
    table = webhook_deliveries
    statement = select(table).order_by(table.c.id)
    if params.get("paymentId"):
        statement = statement.where(table.c.payment_id == params["paymentId"])
    async with runtime(request).require_engine().connect() as conn:
        rows = (await conn.execute(statement)).all()
    items = [
        {
            "eventId": r.event_id,
            "type": r.event_type,
            "paymentId": r.payment_id,
            "url": r.url,
            "attempts": r.attempts,
            "deliveredAt": present.timestamp(r.delivered_at),
            "lastError": r.last_error,
        }
        for r in rows
    ]
    return json_response({"items": items})


ADMIN_ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/admin/chaos", get_chaos, methods=["GET"]),
    Route("/admin/chaos", put_chaos, methods=["PUT"]),
    Route("/admin/clock", get_clock, methods=["GET"]),
    Route("/admin/clock", put_clock, methods=["PUT"]),
]
WEBHOOK_ADMIN_ROUTES = [Route("/admin/webhooks", list_webhooks, methods=["GET"])]
