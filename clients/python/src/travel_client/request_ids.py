"""A request id on every create call that has none, so gRPC's retries of it create once (AIP-155)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import grpc

FIELD = "request_id"


def with_request_id(request: Any) -> Any:
    """The request with a new request id when its message has the field and it is empty, else as is.

    A copy, so the caller's message is left alone; the caller's own id, when set, always wins.
    """
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or FIELD not in descriptor.fields_by_name or getattr(request, FIELD):
        return request
    stamped = type(request)()
    stamped.CopyFrom(request)
    setattr(stamped, FIELD, str(uuid.uuid4()))
    return stamped


class RequestIdInterceptor(grpc.UnaryUnaryClientInterceptor):
    """One request id per logical call: gRPC's own retries (the channel's retry policy) resend the
    serialized message below this interceptor, so every attempt carries the same id and the
    service answers a retry with what the first attempt created."""

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        return continuation(client_call_details, with_request_id(request))
