"""The gRPC status code to HTTP status mapping, as grpc-gateway does it (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from kit.error_reasons import is_product_domain
from kit.field_rules import VIOLATION_REASON

ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"

_HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    # The resource's state forbids it now (e.g. cancelling a cancelled session): a conflict.
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

# The gateway's own rejections use gRPC codes too, so every error body has one shape.
HTTP_TO_GRPC: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    409: grpc.StatusCode.ABORTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def http_status_for(code: grpc.StatusCode, details: Sequence[dict[str, Any]] | None = None) -> int:
    """The HTTP status for a gRPC status code, as grpc-gateway answers it; 500 for anything unknown.

    Given the error's details (protobuf JSON), INVALID_ARGUMENT splits in two: 400 when the request
    broke its declared field rules (the published contract), 422 when it fits the contract and a
    rule the contract cannot state refuses it (a date in the past, an unknown catalog id).
    """
    if code == grpc.StatusCode.INVALID_ARGUMENT and details is not None and not breaks_field_rules(details):
        return 422
    return _HTTP_STATUS.get(code, 500)


def breaks_field_rules(details: Sequence[dict[str, Any]]) -> bool:
    """True when the details carry the ErrorInfo of a broken field rule."""
    return any(
        detail.get("@type") == ERROR_INFO_TYPE
        and detail.get("reason") == VIOLATION_REASON
        and is_product_domain(str(detail.get("domain", "")))
        for detail in details
    )


def grpc_code_for_http(status: int) -> grpc.StatusCode:
    """The gRPC code reported in the body of an error the gateway raises itself."""
    return HTTP_TO_GRPC.get(status, grpc.StatusCode.INTERNAL if status >= 500 else grpc.StatusCode.UNKNOWN)


def grpc_code_number(code: grpc.StatusCode) -> int:
    """The integer value of a gRPC status code (`grpc.StatusCode.value` is `(int, str)`)."""
    number: int = code.value[0]
    return number
