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

from gateway.http_status import ERROR_INFO_TYPE, grpc_code_for_http, grpc_code_number, http_status_for
from kit.error_reasons import ErrorReason, error_domain

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# The ErrorInfo domain of the gateway's own rejections; a backend's refusal keeps its own.
GATEWAY_DOMAIN = error_domain("gateway")

# The reason of a rejection of the gateway's own, by HTTP status, when it names none.
_REASONS: dict[int, ErrorReason] = {
    400: ErrorReason.MALFORMED_REQUEST,
    401: ErrorReason.TOKEN_INVALID,
    403: ErrorReason.CALLER_NOT_ALLOWED,
    404: ErrorReason.ROUTE_NOT_FOUND,
    405: ErrorReason.HTTP_METHOD_NOT_ALLOWED,
    408: ErrorReason.REQUEST_TIMEOUT,
    409: ErrorReason.CONCURRENT_CHANGE,
    413: ErrorReason.REQUEST_TOO_LARGE,
    415: ErrorReason.MALFORMED_REQUEST,
    422: ErrorReason.MALFORMED_REQUEST,
    429: ErrorReason.RATE_LIMITED,
    503: ErrorReason.DEPENDENCY_UNAVAILABLE,
    504: ErrorReason.DEPENDENCY_UNAVAILABLE,
}


class GatewayError(Exception):
    """A request the gateway answers itself, before or instead of calling a backend.

    Its details end with a google.rpc.ErrorInfo naming `reason` (by default the HTTP status's) and
    the gateway's domain; a `relayed` backend answer keeps exactly the details the backend sent.
    """

    def __init__(
        self,
        http_status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        grpc_code: grpc.StatusCode | None = None,
        reason: ErrorReason | None = None,
        metadata: dict[str, str] | None = None,
        relayed: bool = False,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.details = list(details or [])
        self.headers = headers or {}
        self.grpc_code = grpc_code
        if not relayed:
            reason = reason or _REASONS.get(http_status, ErrorReason.INTERNAL)
            self.details.append(error_info_json(reason, GATEWAY_DOMAIN, metadata or {}))

    def body(self) -> dict[str, Any]:
        code = grpc_code_number(self.grpc_code or grpc_code_for_http(self.http_status))
        return {"code": code, "message": self.message, "details": self.details}

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()
        ]


def bad_field(field: str, description: str) -> GatewayError:
    """A 400 naming the offending field, with a google.rpc.BadRequest detail like the backends."""
    violation = {"field": field, "description": description}
    detail = {"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]}
    return GatewayError(
        400, f"invalid field {field}: {description}", [detail], reason=ErrorReason.INVALID_FIELD
    )


def error_info_json(reason: ErrorReason, domain: str, metadata: dict[str, str]) -> dict[str, Any]:
    """A google.rpc.ErrorInfo in protobuf JSON, as a backend's would be rendered."""
    info: dict[str, Any] = {"@type": ERROR_INFO_TYPE, "reason": reason.value, "domain": domain}
    if metadata:
        info["metadata"] = metadata
    return info


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
        status,
        body["message"],
        body["details"],
        headers=retry_after(error),
        grpc_code=error.code(),
        relayed=True,
    )


def detail_json(detail: any_pb2.Any) -> dict[str, Any]:
    """An Any detail in protobuf JSON with `@type`; raw bytes when its type is not known here."""
    try:
        return json_format.MessageToDict(detail)
    except (TypeError, KeyError, json_format.Error):
        return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()}


# Keep the import used: BadRequest must be in the default pool for detail_json to decode it.
_ = error_details_pb2.BadRequest
