"""Every refusal names a reason from the proto's ErrorReason and the domain of the process that refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.rpc import error_details_pb2
from travel.common.v1 import errors_pb2

from kit import errors
from kit.error_reasons import ErrorReason, error_domain, is_product_domain
from kit.grpc_status import DEFAULT_DOMAIN, service_domain, status_for
from services.sessions import domain as sessions

PREFIX = "ERROR_REASON_"


def _info(details: list[object]) -> error_details_pb2.ErrorInfo:
    [info] = [d for d in details if isinstance(d, error_details_pb2.ErrorInfo)]
    return info


def test_the_pure_enum_mirrors_the_proto_enum() -> None:
    names = {name.removeprefix(PREFIX) for name, _ in errors_pb2.ErrorReason.items()}
    proto = names - {"UNSPECIFIED"}
    assert {reason.value for reason in ErrorReason} == proto
    assert all(reason.name == reason.value for reason in ErrorReason)


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (errors.InvalidArgument(errors.FieldViolation("a", "b")), "INVALID_ARGUMENT", "INVALID_FIELD"),
        (errors.FieldRulesBroken([errors.FieldViolation("a", "b")]), "INVALID_ARGUMENT", "FIELD_RULES"),
        (errors.NotFound("x", reason=ErrorReason.SESSION_NOT_FOUND), "NOT_FOUND", "SESSION_NOT_FOUND"),
        (errors.AlreadyExists("x", reason=ErrorReason.EMAIL_TAKEN), "ALREADY_EXISTS", "EMAIL_TAKEN"),
        (
            errors.FailedPrecondition("x", reason=ErrorReason.SESSION_EXPIRED),
            "FAILED_PRECONDITION",
            "SESSION_EXPIRED",
        ),
        (errors.Conflict("x"), "ABORTED", "CONCURRENT_CHANGE"),
        (errors.Unauthenticated("x", reason=ErrorReason.TOKEN_EXPIRED), "UNAUTHENTICATED", "TOKEN_EXPIRED"),
        (errors.PermissionDenied("x"), "PERMISSION_DENIED", "CALLER_NOT_ALLOWED"),
        (errors.ResourceExhausted("x", retry_after_seconds=3), "RESOURCE_EXHAUSTED", "RATE_LIMITED"),
        (errors.DomainError("x"), "FAILED_PRECONDITION", "REFUSED"),
        (errors.DependencyUnavailable("x"), "UNAVAILABLE", "DEPENDENCY_UNAVAILABLE"),
        (RuntimeError("x"), "INTERNAL", "INTERNAL"),
    ],
)
def test_each_error_maps_to_its_code_and_reason(error: Exception, code: str, reason: str) -> None:
    found, _, details = status_for(error, "sessions.travel.example")
    assert found == getattr(grpc.StatusCode, code)
    info = _info(details)
    assert info.reason == reason
    assert info.domain == "sessions.travel.example"


def test_metadata_says_what_a_client_can_act_on() -> None:
    error = errors.ResourceExhausted(
        "too many", retry_after_seconds=7, subject="sessions:open", reason=ErrorReason.OPEN_SESSION_LIMIT
    )
    info = _info(status_for(error)[2])
    assert info.reason == "OPEN_SESSION_LIMIT"
    assert dict(info.metadata) == {"retry_after_seconds": "7", "subject": "sessions:open"}
    assert info.domain == DEFAULT_DOMAIN


def test_a_relayed_refusal_keeps_the_domain_it_came_from() -> None:
    error = errors.FailedPrecondition("x", reason=ErrorReason.SESSION_NOT_OPEN)
    error.domain = "sessions.travel.example"
    assert _info(status_for(error, "hotel.travel.example")[2]).domain == "sessions.travel.example"


def test_an_expired_session_and_a_closed_one_are_told_apart() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    session = sessions.open_session("7b0c9d0e-3c44-4a52-9a55-3c2f6f8f6a10", "c1", now, timedelta(minutes=5))
    with pytest.raises(errors.FailedPrecondition) as expired:
        sessions.require_open(session, now + timedelta(minutes=6))
    assert expired.value.reason is ErrorReason.SESSION_EXPIRED
    assert expired.value.metadata == {"session_id": session.id}
    cancelling = sessions.customer_cancel(session, now)
    with pytest.raises(errors.FailedPrecondition) as closed:
        sessions.require_open(cancelling, now)
    assert closed.value.reason is ErrorReason.SESSION_NOT_OPEN
    assert closed.value.metadata["session_id"] == session.id


def test_domains_are_named_after_the_service() -> None:
    assert service_domain("travel.sessions.v1.SessionsService") == "sessions.travel.example"
    assert service_domain("grpc.health.v1.Health") == DEFAULT_DOMAIN
    assert error_domain("gateway") == "gateway.travel.example"
    assert is_product_domain("customers.travel.example") and is_product_domain("travel.options.v1")
    assert not is_product_domain("googleapis.com")
