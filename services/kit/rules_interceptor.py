"""A server interceptor that refuses a request breaking its declared field rules, before any handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_interceptor.server import AsyncServerInterceptor
from grpc_status import rpc_status

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.field_rules import VIOLATION_DOMAIN, VIOLATION_REASON, violations_of


class FieldRulesInterceptor(AsyncServerInterceptor):
    """INVALID_ARGUMENT naming every offending field; the handler never sees a malformed request."""

    async def intercept(
        self, method: Callable[..., Any], request_or_iterator: Any, context: Any, method_name: str
    ) -> Any:
        if isinstance(request_or_iterator, Message):
            found = violations_of(request_or_iterator)
            if found:
                await context.abort_with_status(rules_status(found))
        response = method(request_or_iterator, context)
        if hasattr(response, "__aiter__"):
            return response
        return await response


def rules_status(violations: list[FieldViolation]) -> Any:
    """INVALID_ARGUMENT with a BadRequest naming the fields and an ErrorInfo saying they broke the
    declared rules, so an edge can tell a breach of the published contract from a business refusal."""
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    marker = error_details_pb2.ErrorInfo(reason=VIOLATION_REASON, domain=VIOLATION_DOMAIN)
    details = []
    for detail in (bad_request, marker):
        packed = any_pb2.Any()
        packed.Pack(detail)
        details.append(packed)
    message = InvalidArgument(violations).message
    return rpc_status.to_status(
        status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=details)
    )
