"""How the provider client reads an HTTP answer: a result, or one of the project's error types."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kit.errors import DependencyUnavailable, InvalidArgument, NotFound
from services.provider_client.client import AmbiguousFailure, ProviderRefusal, _interpret


def answer(status: int, body: Any = None, text: str | None = None) -> tuple[int, bytes]:
    """A provider's answer as the client reads it: its status and its body's bytes."""
    return status, (text if text is not None else json.dumps(body)).encode()


def test_a_success_answers_its_json_body() -> None:
    assert _interpret("POST", "/holds", *answer(201, {"id": "hold_1"})) == {"id": "hold_1"}
    assert _interpret("GET", "/holds", *answer(200, [])) == []


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_overload_and_gateway_errors_mean_nothing_happened(status: int) -> None:
    with pytest.raises(DependencyUnavailable) as raised:
        _interpret("POST", "/holds", *answer(status, {"error": "BUSY"}))
    assert type(raised.value) is DependencyUnavailable  # safe to retry, unlike an ambiguous failure


@pytest.mark.parametrize("status", [500, 501, 599])
def test_other_server_errors_may_have_taken_effect(status: int) -> None:
    with pytest.raises(AmbiguousFailure):
        _interpret("POST", "/holds/h1/confirm", *answer(status, text="Internal Server Error"))


def test_not_found_carries_the_providers_message() -> None:
    with pytest.raises(NotFound, match="no hold 'h1'"):
        _interpret("GET", "/holds/h1", *answer(404, {"error": "HOLD_NOT_FOUND", "message": "no hold 'h1'"}))
    with pytest.raises(NotFound, match="/holds/h2"):
        _interpret("GET", "/holds/h2", *answer(404, text="gone"))


def test_a_bad_request_names_the_field() -> None:
    body = {"error": "INVALID_ARGUMENT", "message": "guests must be 1 to 9", "field": "guests"}
    with pytest.raises(InvalidArgument) as raised:
        _interpret("POST", "/holds", *answer(400, body))
    assert [(v.field, v.description) for v in raised.value.violations] == [
        ("guests", "guests must be 1 to 9")
    ]
    with pytest.raises(InvalidArgument) as unnamed:
        _interpret("POST", "/holds", *answer(400, ["not", "an", "object"]))
    assert unnamed.value.violations[0].field == "request"


def test_refusals_keep_the_providers_code() -> None:
    with pytest.raises(ProviderRefusal) as conflict:
        _interpret(
            "POST", "/holds/h1/confirm", *answer(409, {"error": "HOLD_EXPIRED", "message": "too late"})
        )
    assert (conflict.value.code, conflict.value.message) == ("HOLD_EXPIRED", "too late")
    with pytest.raises(ProviderRefusal) as reused:
        _interpret("POST", "/holds", *answer(422, {"error": "IDEMPOTENCY_KEY_REUSED", "message": "reused"}))
    assert reused.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_a_refusal_without_a_readable_body_gets_a_code_from_its_status() -> None:
    with pytest.raises(ProviderRefusal) as bare_conflict:
        _interpret("POST", "/holds", *answer(409, text="<html>conflict</html>"))
    assert bare_conflict.value.code == "REFUSED"
    with pytest.raises(ProviderRefusal) as teapot:
        _interpret("POST", "/holds", *answer(418, text=""))
    assert (teapot.value.code, teapot.value.message) == ("HTTP_418", "provider answered 418")
