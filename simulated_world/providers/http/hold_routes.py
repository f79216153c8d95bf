"""Holds on the hotel and flight instances: create, read, list, confirm, cancel, cancel by key."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulated_world.providers.domain import requests
from simulated_world.providers.http.runtime import json_response, mutate, query, read_body, runtime
from simulated_world.providers.store.idempotency import CREATE_HOLD


async def create_hold(request: Request) -> Response:
    body = await read_body(request)
    key = requests.idempotency_key(request.headers.get("Idempotency-Key"))
    booking = runtime(request).require_booking()
    return await mutate(request, CREATE_HOLD, body, lambda conn: booking.pre_reserve(conn, body, key))


async def get_hold(request: Request) -> Response:
    ctx, hold_id = runtime(request), request.path_params["id"]
    booking = ctx.require_booking()
    return json_response(await ctx.require_database().read(lambda conn: booking.get(conn, hold_id)))


async def list_holds(request: Request) -> Response:
    params = query(request)
    page = requests.page(params)
    ctx = runtime(request)
    booking = ctx.require_booking()
    return json_response(await ctx.require_database().read(lambda conn: booking.list(conn, params, page)))


async def confirm_hold(request: Request) -> Response:
    body = await read_body(request, required=False)
    hold_id = request.path_params["id"]
    booking = runtime(request).require_booking()
    return await mutate(
        request, "POST /holds/{id}/confirm", body, lambda conn: booking.confirm(conn, hold_id)
    )


async def cancel_hold(request: Request) -> Response:
    body = await read_body(request, required=False)
    hold_id = request.path_params["id"]
    booking = runtime(request).require_booking()
    return await mutate(request, "POST /holds/{id}/cancel", body, lambda conn: booking.cancel(conn, hold_id))


async def cancel_hold_by_key(request: Request) -> Response:
    body = await read_body(request, required=False)
    key = requests.idempotency_key(request.path_params["key"])
    assert key is not None
    booking = runtime(request).require_booking()
    return await mutate(
        request, "POST /holds/by-key/{key}/cancel", body, lambda conn: booking.cancel_by_key(conn, key)
    )


async def cancel_by_key_in_body(request: Request) -> Response:
    body = await read_body(request)
    key = requests.idempotency_key(requests.text(body, "idempotencyKey", max_length=255))
    assert key is not None
    booking = runtime(request).require_booking()
    return await mutate(
        request, "POST /holds/cancel-by-key", body, lambda conn: booking.cancel_by_key(conn, key)
    )


HOLD_ROUTES = [
    Route("/holds", create_hold, methods=["POST"]),
    Route("/holds", list_holds, methods=["GET"]),
    Route("/holds/cancel-by-key", cancel_by_key_in_body, methods=["POST"]),
    Route("/holds/by-key/{key}/cancel", cancel_hold_by_key, methods=["POST"]),
    Route("/holds/{id}", get_hold, methods=["GET"]),
    Route("/holds/{id}/confirm", confirm_hold, methods=["POST"]),
    Route("/holds/{id}/cancel", cancel_hold, methods=["POST"]),
]
