"""Request building from path, query and body; response rendering; error wording."""

from __future__ import annotations

import json

import pytest

from gateway.errors import GatewayError
from gateway.routes import RouteTable, bindings_of_files
from gateway.transcoder import Transcoder, describe_parse_error
from tests.unit.gateway.echo_proto import echo_file


def transcoder_for(http_method: str, path: str) -> tuple[Transcoder, dict[str, str]]:
    found = RouteTable(bindings_of_files([echo_file()])).match(http_method, path)
    assert found is not None
    return Transcoder(found.binding), found.variables


def test_query_parameters_are_converted_by_field_type() -> None:
    transcoder, variables = transcoder_for("GET", "/v1/inner/i1/things")
    query = b"tags=a&tags=b&big=-5&small=7&flag=false&color=2&ratio=0.5&inner.count=3&display_name=d"
    request = transcoder.build_request(variables, query, b"")
    assert list(request.tags) == ["a", "b"]  # type: ignore[attr-defined]
    assert (request.big, request.small, request.flag) == (-5, 7, False)  # type: ignore[attr-defined]
    assert request.color == 2  # type: ignore[attr-defined]
    assert request.ratio == 0.5  # type: ignore[attr-defined]
    assert (request.inner.id, request.inner.count) == ("i1", 3)  # type: ignore[attr-defined]
    assert request.display_name == "d"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (b"small=2147483648", "small"),
        (b"numbers=1&numbers=x", "numbers"),
        (b"inner=x", "inner"),
        (b"when=2024-13-01T00:00:00Z", "when"),
        (b"inner.id=x", "inner.id"),
        (b"id=a&id=b", "id"),
        (b"tags=%FF", None),
    ],
)
def test_bad_query_values_are_400(query: bytes, field: str | None) -> None:
    transcoder, variables = transcoder_for("GET", "/v1/inner/i1/things")
    with pytest.raises(GatewayError) as raised:
        transcoder.build_request(variables, query, b"")
    assert raised.value.http_status == 400
    if field is not None:
        assert raised.value.details[0]["fieldViolations"][0]["field"] == field


def test_body_star_rejects_query_parameters() -> None:
    transcoder, variables = transcoder_for("POST", "/v1/things")
    with pytest.raises(GatewayError):
        transcoder.build_request(variables, b"id=1", b"{}")


def test_field_body_goes_into_that_field_and_path_wins() -> None:
    transcoder, variables = transcoder_for("PATCH", "/v1/things/t1")
    request = transcoder.build_request(variables, b"", b'{"id": "in", "count": "4"}')
    assert request.id == "t1"  # type: ignore[attr-defined]
    assert (request.inner.id, request.inner.count) == ("in", 4)  # type: ignore[attr-defined]


def test_response_is_camel_case_with_int64_as_string() -> None:
    transcoder, variables = transcoder_for("POST", "/v1/things")
    request = transcoder.build_request(variables, b"", b'{"big": 12, "displayName": "x"}')
    rendered = transcoder.render_response(request)
    assert b'"big":"12"' in rendered
    assert b'"displayName":"x"' in rendered


def test_response_body_renders_one_field() -> None:
    transcoder, variables = transcoder_for("DELETE", "/v1/things/t1")
    request = transcoder.build_request(variables, b"inner.count=2", b"")
    assert json.loads(transcoder.render_response(request)) == {"id": "", "count": 2}


def test_parse_error_wording_names_nested_fields() -> None:
    nested = Exception("Failed to parse customer field: Failed to parse createTime field: bad.")
    assert describe_parse_error(nested) == ("customer.createTime", "bad")
    unknown = Exception('Message type "x.Y" has no field named "zz" at "Y.inner".\n Available')
    assert describe_parse_error(unknown) == ("inner.zz", "unknown field")
