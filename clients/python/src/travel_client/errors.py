"""gRPC failures as Python exceptions, with the google.rpc details the servers attach to them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, message
from google.rpc import error_details_pb2, status_pb2

# The trailer in which a server sends its google.rpc.Status with typed details.
STATUS_DETAILS_KEY = "grpc-status-details-bin"

_DETAIL_TYPES: tuple[type[message.Message], ...] = (
    error_details_pb2.BadRequest,
    error_details_pb2.ErrorInfo,
    error_details_pb2.RetryInfo,
    error_details_pb2.QuotaFailure,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.ResourceInfo,
    error_details_pb2.DebugInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
    error_details_pb2.RequestInfo,
)


class TravelError(grpc.RpcError):
    """A call the travel agency refused or could not answer; still a grpc.RpcError for generic handlers.

    Like grpc's own failed call it is also the call's outcome (result() raises it), so it passes
    through any other client interceptor of the channel.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: list[message.Message],
        trailers: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.status_code = code
        self.message = message
        self.error_details = details
        self.trailers = trailers

    def code(self) -> grpc.StatusCode:
        return self.status_code

    def details(self) -> str:
        """The status message, as grpc.Call.details() gives it."""
        return self.message

    def trailing_metadata(self) -> tuple[Any, ...]:
        return self.trailers

    def result(self, timeout: float | None = None) -> Any:
        raise self

    def exception(self, timeout: float | None = None) -> TravelError:
        return self

    def done(self) -> bool:
        return True

    def detail(self, kind: type[Any]) -> Any:
        """The first google.rpc detail of that type, or None."""
        return next((d for d in self.error_details if isinstance(d, kind)), None)

    @property
    def field_violations(self) -> dict[str, str]:
        """Each refused field of the request (google.rpc.BadRequest) with why."""
        bad = self.detail(error_details_pb2.BadRequest)
        return {} if bad is None else {v.field: v.description for v in bad.field_violations}

    @property
    def reason(self) -> str | None:
        """Why, in a word to branch on (google.rpc.ErrorInfo): a travel.common.v1.ErrorReason value
        name without its ERROR_REASON_ prefix, e.g. SESSION_EXPIRED or FIELD_RULES."""
        info = self.detail(error_details_pb2.ErrorInfo)
        return None if info is None else str(info.reason)

    @property
    def domain(self) -> str | None:
        """The service that refused (google.rpc.ErrorInfo), e.g. sessions.travel.example."""
        info = self.detail(error_details_pb2.ErrorInfo)
        return None if info is None else str(info.domain)

    @property
    def metadata(self) -> dict[str, str]:
        """The facts that come with the reason (google.rpc.ErrorInfo), e.g. session_id."""
        info = self.detail(error_details_pb2.ErrorInfo)
        return {} if info is None else dict(info.metadata)

    @property
    def retry_after_seconds(self) -> float | None:
        """How long the server asks to wait before trying again (google.rpc.RetryInfo), if it says."""
        info = self.detail(error_details_pb2.RetryInfo)
        if info is None or not info.HasField("retry_delay"):
            return None
        return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)


class InvalidArgument(TravelError):
    """The request breaks a field rule or a business rule; `field_violations` names the fields."""


class NotFound(TravelError):
    """No such resource for this caller."""


class AlreadyExists(TravelError):
    """The resource exists already (e.g. a registered email)."""


class FailedPrecondition(TravelError):
    """The resource's state forbids this now (e.g. changing a session past OPEN)."""


class Aborted(TravelError):
    """A concurrent change won: read again and retry."""


class Unauthenticated(TravelError):
    """The bearer token is missing, invalid or expired, or the credentials are wrong."""


class PermissionDenied(TravelError):
    """The caller may not call this method."""


class ResourceExhausted(TravelError):
    """Too many attempts or open resources; `retry_after_seconds` says when to come back."""


class Unavailable(TravelError):
    """The service or a provider behind it did not answer, even after the channel's retries."""


class DeadlineExceeded(TravelError):
    """No answer within the call's deadline."""


class SessionNotFound(NotFound):
    """No such session for this caller (reason SESSION_NOT_FOUND)."""


class SessionNotOpen(FailedPrecondition):
    """The session is past OPEN: paying, booked or cancelled (reason SESSION_NOT_OPEN)."""


class SessionExpired(FailedPrecondition):
    """The session passed its deadline; open a new one (reason SESSION_EXPIRED)."""


class EmailTaken(AlreadyExists):
    """A customer with this email exists already (reason EMAIL_TAKEN)."""


class TokenExpired(Unauthenticated):
    """The bearer token has expired; sign in again (reason TOKEN_EXPIRED)."""


class RateLimited(ResourceExhausted):
    """Too many attempts in a window; wait `retry_after_seconds` (reason RATE_LIMITED)."""


class OpenSessionLimit(ResourceExhausted):
    """As many sessions are open as a customer may have (reason OPEN_SESSION_LIMIT)."""


# The reasons with a class of their own, each under the class of the status code it comes with.
_BY_REASON: dict[str, type[TravelError]] = {
    "SESSION_NOT_FOUND": SessionNotFound,
    "SESSION_NOT_OPEN": SessionNotOpen,
    "SESSION_EXPIRED": SessionExpired,
    "EMAIL_TAKEN": EmailTaken,
    "TOKEN_EXPIRED": TokenExpired,
    "RATE_LIMITED": RateLimited,
    "OPEN_SESSION_LIMIT": OpenSessionLimit,
}

_BY_CODE: dict[grpc.StatusCode, type[TravelError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def unpack_details(packed: list[any_pb2.Any]) -> list[message.Message]:
    """The google.rpc detail messages this client knows; others stay as Any."""
    details: list[message.Message] = []
    for holder in packed:
        kind = next((k for k in _DETAIL_TYPES if holder.TypeName() == k.DESCRIPTOR.full_name), None)
        if kind is None:
            details.append(holder)
            continue
        detail = kind()
        holder.Unpack(detail)
        details.append(detail)
    return details


def from_rpc_error(error: grpc.RpcError) -> TravelError:
    """The TravelError a failed call stands for, its details decoded from the status trailer."""
    if isinstance(error, TravelError):
        return error
    call: Any = error  # a failed call's RpcError is also its grpc.Call
    code: grpc.StatusCode = call.code()
    text: str = call.details() or code.name.lower()
    trailers = tuple(call.trailing_metadata() or ())
    details: list[message.Message] = []
    for key, value in trailers:
        if key == STATUS_DETAILS_KEY:
            details = unpack_details(list(status_pb2.Status.FromString(value).details))
    kind = _BY_CODE.get(code, TravelError)
    info = next((d for d in details if isinstance(d, error_details_pb2.ErrorInfo)), None)
    special = _BY_REASON.get(info.reason) if info is not None else None
    if special is not None and issubclass(special, kind):
        kind = special
    mapped = kind(code, text, details, trailers)
    mapped.__cause__ = error
    return mapped


class TravelErrorInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Turns every failed unary call made through the channel into a TravelError."""

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        outcome = continuation(client_call_details, request)
        # A blocking call's outcome is already settled; a .future() call's is left to its caller.
        if outcome.done():
            error = outcome.exception()
            if isinstance(error, grpc.RpcError):
                return from_rpc_error(error)
        return outcome
