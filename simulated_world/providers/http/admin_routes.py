"""Operator routes on every instance: /healthz, /admin/chaos, /admin/clock, and /admin/webhooks on payment."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from sqlalchemy import bindparam, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.statements import Statement
from simulated_world.providers import representations as present
from simulated_world.providers.admin_access import admits
from simulated_world.providers.domain.errors import InvalidField
from simulated_world.providers.http.errors import error_body
from simulated_world.providers.http.runtime import json_response, query, read_body, runtime
from simulated_world.providers.store.tables import webhook_deliveries

Endpoint = Callable[[Request], Awaitable[Response]]

_DELIVERIES = Statement(select(webhook_deliveries).order_by(webhook_deliveries.c.id))
_DELIVERIES_OF = Statement(
    select(webhook_deliveries)
    .where(webhook_deliveries.c.payment_id == bindparam("payment_id"))
    .order_by(webhook_deliveries.c.id)
)


def operator_only(endpoint: Endpoint) -> Endpoint:
    """The endpoint, answering 401 to a request without the admin token (when one is configured)."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if not admits(runtime(request).config.admin_token, request.headers.get("authorization")):
            body = error_body("UNAUTHORIZED", "the admin routes need Authorization: Bearer <admin token>")
            response = json_response(body, 401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="provider admin"'
            return response
        return await endpoint(request)

    return guarded


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
    payment_id = query(request).get("paymentId") or None
    statement = _DELIVERIES_OF if payment_id else _DELIVERIES
    params = {"payment_id": payment_id} if payment_id else None
    rows = await runtime(request).require_database().read(lambda conn: conn.rows(statement, params))
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
    Route("/admin/chaos", operator_only(get_chaos), methods=["GET"]),
    Route("/admin/chaos", operator_only(put_chaos), methods=["PUT"]),
    Route("/admin/clock", operator_only(get_clock), methods=["GET"]),
    Route("/admin/clock", operator_only(put_clock), methods=["PUT"]),
]
WEBHOOK_ADMIN_ROUTES = [Route("/admin/webhooks", operator_only(list_webhooks), methods=["GET"])]
