"""Domain and transient errors become the right gRPC status, with field violations as details."""

import grpc
import pytest
from google.rpc import error_details_pb2

from kit import errors
from kit.grpc_status import status_for


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.Conflict("x"), grpc.StatusCode.ABORTED),
        (errors.Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.PermissionDenied("x"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.DependencyUnavailable("x"), grpc.StatusCode.UNAVAILABLE),
        (errors.DomainError("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (ValueError("boom"), grpc.StatusCode.INTERNAL),
    ],
)
def test_each_error_has_its_code(error: Exception, code: grpc.StatusCode) -> None:
    assert status_for(error)[0] == code


def test_invalid_argument_carries_every_field_violation() -> None:
    error = errors.InvalidArgument(
        [errors.FieldViolation("email", "is required"), errors.FieldViolation("name", "too long")]
    )
    code, message, details = status_for(error)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "email" in message and "name" in message
    [bad] = [d for d in details if isinstance(d, error_details_pb2.BadRequest)]
    assert [v.field for v in bad.field_violations] == ["email", "name"]


def test_internal_errors_do_not_leak_their_message() -> None:
    assert status_for(RuntimeError("password=hunter2"))[1] == "internal error"


def test_resource_exhausted_says_when_to_retry_and_which_quota() -> None:
    error = errors.ResourceExhausted("too many login attempts", retry_after_seconds=42, subject="login:email")
    code, message, details = status_for(error)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert message == "too many login attempts"
    retry, quota = [d for d in details if not isinstance(d, error_details_pb2.ErrorInfo)]
    assert isinstance(retry, error_details_pb2.RetryInfo) and retry.retry_delay.seconds == 42
    assert isinstance(quota, error_details_pb2.QuotaFailure)
    assert quota.violations[0].subject == "login:email"
