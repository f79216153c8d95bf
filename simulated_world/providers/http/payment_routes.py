"""Payments on the payment instance: create, read, list, pay or decline, refund."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulated_world.providers.domain import requests
from simulated_world.providers.http.runtime import (
    base_url,
    json_response,
    mutate,
    query,
    read_body,
    runtime,
)


async def create_payment(request: Request) -> Response:
    body = await read_body(request)
    ctx = runtime(request)
    url = base_url(request)
    response = await mutate(
        request, "POST /payments", body, lambda conn: ctx.require_payments().create(conn, body, url)
    )
    replayed = "Idempotent-Replayed" in response.headers
    if response.status_code == 201 and ctx.auto_completer is not None and not replayed:
        ctx.auto_completer.schedule(json.loads(bytes(response.body))["id"], ctx.clock.now())
    return response


async def get_payment(request: Request) -> Response:
    ctx, payment_id, url = runtime(request), request.path_params["id"], base_url(request)
    payments = ctx.require_payments()
    return json_response(await ctx.require_database().read(lambda conn: payments.get(conn, payment_id, url)))


async def list_payments(request: Request) -> Response:
    params = query(request)
    page = requests.page(params)
    ctx, reference, url = runtime(request), params.get("reference") or None, base_url(request)
    payments = ctx.require_payments()
    body = await ctx.require_database().read(lambda conn: payments.list(conn, reference, page, url))
    return json_response(body)


async def pay(request: Request) -> Response:
    body = await read_body(request, required=False)
    outcome = requests.outcome(body)
    payment_id, url, ctx = request.path_params["id"], base_url(request), runtime(request)
    response = await mutate(
        request,
        "POST /payments/{id}/pay",
        body,
        lambda conn: ctx.require_payments().pay(conn, payment_id, outcome, url),
    )
    _wake_dispatcher(request)
    return response


async def refund(request: Request) -> Response:
    body = await read_body(request, required=False)
    payment_id, url, ctx = request.path_params["id"], base_url(request), runtime(request)
    response = await mutate(
        request,
        "POST /payments/{id}/refund",
        body,
        lambda conn: ctx.require_payments().refund(conn, payment_id, url),
    )
    _wake_dispatcher(request)
    return response


def _wake_dispatcher(request: Request) -> None:
    dispatcher = runtime(request).dispatcher
    if dispatcher is not None:
        dispatcher.wake()


PAYMENT_ROUTES = [
    Route("/payments", create_payment, methods=["POST"]),
    Route("/payments", list_payments, methods=["GET"]),
    Route("/payments/{id}", get_payment, methods=["GET"]),
    Route("/payments/{id}/pay", pay, methods=["POST"]),
    Route("/payments/{id}/refund", refund, methods=["POST"]),
]
