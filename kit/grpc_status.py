"""The one place where domain and transient errors become gRPC status codes with google.rpc details."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from kit import errors
from kit.error_reasons import PRODUCT_DOMAIN, ErrorReason, error_domain

# The ErrorInfo domain when a process names none (tests, tools): the product's own.
DEFAULT_DOMAIN = PRODUCT_DOMAIN

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


def status_for(error: Exception, domain: str = DEFAULT_DOMAIN) -> tuple[grpc.StatusCode, str, list[Any]]:
    """The status code, message and detail messages for an error; `domain` names the refusing process.

    Every status carries a google.rpc.ErrorInfo: its reason says why in a word a client can branch
    on, beside the details that say more (BadRequest, RetryInfo, QuotaFailure).
    """
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
            if isinstance(error, errors.TransientError):
                details.append(error_details_pb2.RetryInfo())
            if isinstance(error, errors.ResourceExhausted):
                details += _exhausted_details(error)
            # Last, so the details that came before it keep their places.
            details.append(_error_info(error, domain))
            return code, str(error) or code.name.lower(), details
    internal = error_details_pb2.ErrorInfo(reason=ErrorReason.INTERNAL.value, domain=domain)
    return grpc.StatusCode.INTERNAL, "internal error", [internal]


def _error_info(error: Exception, domain: str) -> error_details_pb2.ErrorInfo:
    """The reason (FIELD_RULES lets an edge tell a breach of the published contract from a business
    refusal), the domain that refused, and the facts a client may act on."""
    if isinstance(error, errors.TransientError):
        return error_details_pb2.ErrorInfo(reason=error.reason.value, domain=domain)
    if not isinstance(error, errors.DomainError):
        return error_details_pb2.ErrorInfo(reason=ErrorReason.INTERNAL.value, domain=domain)
    metadata = dict(error.metadata)
    if isinstance(error, errors.ResourceExhausted):
        metadata["retry_after_seconds"] = str(max(1, error.retry_after_seconds))
        if error.subject:
            metadata["subject"] = error.subject
    return error_details_pb2.ErrorInfo(
        reason=str(error.reason), domain=error.domain or domain, metadata=metadata
    )


def service_domain(full_name: str) -> str:
    """The ErrorInfo domain of a process serving `travel.<service>.v1.<Name>`: `<service>.travel.example`."""
    parts = full_name.split(".")
    return error_domain(parts[1]) if len(parts) > 2 and parts[0] == "travel" else DEFAULT_DOMAIN


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


def to_rpc_status(error: Exception, domain: str = DEFAULT_DOMAIN) -> grpc.Status:
    code, message, details = status_for(error, domain)
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
    """The domain error a peer service's status stands for, so callers handle one error vocabulary;
    a refusal keeps the peer's reason, metadata and domain."""
    code = error.code()
    message = error.details() or code.name.lower()
    violations: list[errors.FieldViolation] = []
    info: error_details_pb2.ErrorInfo | None = None
    try:
        # An AioRpcError carries the same code, details and trailers a sync Call does.
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:
        status = None  # the trailer disagrees with the status: ignore the trailer
    for detail in status.details if status is not None else []:
        bad = error_details_pb2.BadRequest()
        found = error_details_pb2.ErrorInfo()
        if detail.Unpack(bad):
            violations += [errors.FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Unpack(found):
            info = found
    refusal: errors.DomainError
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        refusal = errors.InvalidArgument(violations or [errors.FieldViolation("request", message)], message)
    elif code in _ERRORS_BY_CODE:
        refusal = _ERRORS_BY_CODE[code](message)
    else:
        return errors.DependencyUnavailable(f"peer failed with {code.name}: {message}")
    if info is not None and info.reason in ErrorReason.__members__:
        refusal.reason = ErrorReason(info.reason)
        refusal.metadata = dict(info.metadata)
        refusal.domain = info.domain
    return refusal
