"""`POST /v1/webhooks/payments`: verify the provider's signature over the raw body, then hand the event on."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from travel.payments.v1 import payments_pb2, payments_pb2_grpc

from gateway.errors import GatewayError
from gateway.http_status import http_status_for
from gateway.request_body import read_request_body
from kit.call_context import outgoing_metadata
from kit.service_identity import ServiceCredentials
from kit.webhook_signature import HEADER, SignatureError, verify

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 64 * 1024


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "details": []}, status_code=status)


def _event_request(body: bytes) -> payments_pb2.HandleProviderEventRequest:
    try:
        event = json.loads(body)
    except ValueError:
        raise ValueError("body is not valid JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise ValueError("body must be an event object with a data object")
    data: dict[str, Any] = event["data"]
    for name, value in (
        ("id", event.get("id")),
        ("type", event.get("type")),
        ("data.paymentId", data.get("paymentId")),
    ):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
    return payments_pb2.HandleProviderEventRequest(
        event_id=event["id"],
        type=event["type"],
        payment_id=data["paymentId"],
        reference=str(data.get("reference") or ""),
    )


def payment_webhook_route(
    secret: str,
    credentials: ServiceCredentials,
    channel: Callable[[Request], grpc.aio.Channel],
    tolerance_seconds: int = 300,
    clock: Callable[[], float] = time.time,
) -> Route:
    async def receive(request: Request) -> Response:
        try:
            body = await read_request_body(request, MAX_WEBHOOK_BYTES)
        except GatewayError as error:
            return JSONResponse(error.body(), status_code=error.http_status)
        try:
            verify(secret, request.headers.get(HEADER), body, clock(), tolerance_seconds)
        except SignatureError as error:
            return _error(401, 16, f"webhook signature rejected: {error}")
        try:
            event = _event_request(body)
        except ValueError as error:
            return _error(400, 3, f"malformed webhook: {error}")
        stub = payments_pb2_grpc.PaymentsServiceStub(channel(request))
        try:
            metadata = (*credentials.metadata(), *outgoing_metadata())
            answer = await stub.HandleProviderEvent(event, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            return _error(http_status_for(code), code.value[0], error.details() or code.name)
        return JSONResponse({"received": True, "duplicate": answer.duplicate, "result": answer.result})

    return Route("/v1/webhooks/payments", receive, methods=["POST"])
