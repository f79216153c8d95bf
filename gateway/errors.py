"""The one error body shape of the gateway, for its own rejections and for backend statuses."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.http_status import grpc_code_for_http, grpc_code_number, http_status_for

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


class GatewayError(Exception):
    """A request the gateway answers itself, before or instead of calling a backend."""

    def __init__(
        self,
        http_status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        grpc_code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        self.grpc_code = grpc_code

    def body(self) -> dict[str, Any]:
        code = grpc_code_number(self.grpc_code or grpc_code_for_http(self.http_status))
        return {"code": code, "message": self.message, "details": self.details}

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers.items()
        ]


def bad_field(field: str, description: str) -> GatewayError:
    """A 400 naming the offending field, with a google.rpc.BadRequest detail like the backends."""
    violation = {"field": field, "description": description}
    detail = {"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]}
    return GatewayError(400, f"invalid field {field}: {description}", [detail])


def error_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def rpc_error_response(error: grpc.aio.AioRpcError, service: str) -> tuple[int, dict[str, Any]]:
    """HTTP status and body for a failed call: code, message and google.rpc details as JSON."""
    code = error.code()
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]  # an AioRpcError is a Call
    except ValueError:
        status = None  # the trailer disagrees with the status: ignore the trailer
    message = error.details() or code.name
    details: list[dict[str, Any]] = []
    if status is not None:
        details = [detail_json(detail) for detail in status.details]
    elif code == grpc.StatusCode.UNAVAILABLE:
        # Transport failures carry addresses and resolver chatter: not for clients.
        message = f"{service} is unavailable"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"{service} did not answer in time"
    body = {"code": grpc_code_number(code), "message": message, "details": details}
    return http_status_for(code, details), body


def retry_after(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """`Retry-After` (whole seconds) from the status's google.rpc.RetryInfo, when it names a delay."""
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]  # an AioRpcError is a Call
    except ValueError:
        return {}
    for detail in status.details if status is not None else []:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
            if delay > 0:
                return {"Retry-After": str(max(1, math.ceil(delay)))}
    return {}


def backend_error(error: grpc.aio.AioRpcError, service: str) -> GatewayError:
    """A failed backend call as the gateway's answer: its status, body, and `Retry-After` if any."""
    status, body = rpc_error_response(error, service)
    return GatewayError(
        status, body["message"], body["details"], headers=retry_after(error), grpc_code=error.code()
    )


def detail_json(detail: any_pb2.Any) -> dict[str, Any]:
    """An Any detail in protobuf JSON with `@type`; raw bytes when its type is not known here."""
    try:
        return json_format.MessageToDict(detail)
    except (TypeError, KeyError, json_format.Error):
        return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()}


# Keep the import used: BadRequest must be in the default pool for detail_json to decode it.
_ = error_details_pb2.BadRequest
