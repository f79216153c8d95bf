"""The one place where domain and transient errors become gRPC status codes with google.rpc details."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from kit import errors
from kit.field_rules import VIOLATION_DOMAIN, VIOLATION_REASON

_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Conflict, grpc.StatusCode.ABORTED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.TransientError, grpc.StatusCode.UNAVAILABLE),
    # Any other business outcome is a refusal the caller can act on, never an internal error.
    (errors.DomainError, grpc.StatusCode.FAILED_PRECONDITION),
]


def status_for(error: Exception) -> tuple[grpc.StatusCode, str, list[Any]]:
    """The status code, message and detail messages for an error."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            details: list[Any] = []
            if isinstance(error, errors.InvalidArgument):
                details.append(
                    error_details_pb2.BadRequest(
                        field_violations=[
                            error_details_pb2.BadRequest.FieldViolation(
                                field=v.field, description=v.description
                            )
                            for v in error.violations
                        ]
                    )
                )
            if isinstance(error, errors.FieldRulesBroken):
                # Lets an edge tell a breach of the published contract from a business refusal.
                details.append(error_details_pb2.ErrorInfo(reason=VIOLATION_REASON, domain=VIOLATION_DOMAIN))
            if isinstance(error, errors.TransientError):
                details.append(error_details_pb2.RetryInfo())
            if isinstance(error, errors.ResourceExhausted):
                details += _exhausted_details(error)
            return code, str(error) or code.name.lower(), details
    return grpc.StatusCode.INTERNAL, "internal error", []


def _exhausted_details(error: errors.ResourceExhausted) -> list[Any]:
    """RetryInfo says when to come back (the gateway turns it into Retry-After); QuotaFailure, which."""
    delay = duration_pb2.Duration(seconds=max(1, error.retry_after_seconds))
    quota = error_details_pb2.QuotaFailure(
        violations=[
            error_details_pb2.QuotaFailure.Violation(subject=error.subject, description=error.message)
        ]
    )
    return [error_details_pb2.RetryInfo(retry_delay=delay), quota]


def rules_status(violations: list[errors.FieldViolation]) -> grpc.Status:
    """INVALID_ARGUMENT with a BadRequest naming the fields and an ErrorInfo saying they broke the
    declared rules."""
    return to_rpc_status(errors.FieldRulesBroken(violations))


def to_rpc_status(error: Exception) -> grpc.Status:
    code, message, details = status_for(error)
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    proto = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=packed)
    return rpc_status.to_status(proto)


def aborted_code(context: Any) -> str:
    """The code a handler aborted with; its name, whatever form the context keeps it in."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    known = {status.value[0]: status.name for status in grpc.StatusCode}
    return known.get(code, "UNKNOWN") if isinstance(code, int) else "UNKNOWN"


_ERRORS_BY_CODE: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.Conflict,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
}


def error_from_rpc(error: grpc.aio.AioRpcError) -> Exception:
    """The domain error a peer service's status stands for, so callers handle one error vocabulary."""
    code = error.code()
    message = error.details() or code.name.lower()
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        violations: list[errors.FieldViolation] = []
        # An AioRpcError carries the same code, details and trailers a sync Call does.
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        for detail in status.details if status is not None else []:
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                violations += [errors.FieldViolation(v.field, v.description) for v in bad.field_violations]
        return errors.InvalidArgument(violations or [errors.FieldViolation("request", message)], message)
    kind = _ERRORS_BY_CODE.get(code)
    if kind is not None:
        return kind(message)
    return errors.DependencyUnavailable(f"peer failed with {code.name}: {message}")
