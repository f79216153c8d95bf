"""Status mapping, configuration from the environment and the OpenAPI document."""

from __future__ import annotations

import grpc
import pytest
from travel.customers.v1 import customers_pb2

from gateway.config import GatewayConfig
from gateway.http_status import ERROR_INFO_TYPE, http_status_for
from gateway.openapi import openapi_document
from gateway.routes import RouteTable, bindings_of_files
from kit.field_rules import NO_CONTROL_CHARACTERS, VIOLATION_DOMAIN, VIOLATION_REASON
from kit.settings import ConfigError, Env
from tests.unit.gateway.echo_proto import echo_file


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.OUT_OF_RANGE, 400),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.DATA_LOSS, 500),
        (grpc.StatusCode.UNKNOWN, 500),
    ],
)
def test_grpc_to_http_status(code: grpc.StatusCode, status: int) -> None:
    assert http_status_for(code) == status


def test_config_defaults_and_replicas() -> None:
    config = GatewayConfig.from_env(
        Env({"CUSTOMERS_GRPC_ADDR": "10.0.0.1:1, 10.0.0.2:1", "GATEWAY_PORT": "9000"}),
        services={"echo"},
    )
    assert config.addresses_for("customers") == ("10.0.0.1:1", "10.0.0.2:1")
    assert config.addresses_for("payments") == ("127.0.0.1:50055",)
    assert (config.host, config.port) == ("127.0.0.1", 9000), "loopback unless GATEWAY_HOST says otherwise"
    assert config.tls is None, "plaintext unless GRPC_TLS_* is set"
    with pytest.raises(ConfigError, match="ECHO_GRPC_ADDR"):
        config.addresses_for("echo")


def test_config_refuses_bad_values() -> None:
    with pytest.raises(ConfigError, match="GATEWAY_PORT"):
        GatewayConfig.from_env(Env({"GATEWAY_PORT": "http"}))
    with pytest.raises(ConfigError, match="SESSIONS_GRPC_ADDR"):
        GatewayConfig.from_env(Env({"SESSIONS_GRPC_ADDR": " , "}))


def test_openapi_document_from_descriptors() -> None:
    table = RouteTable(bindings_of_files([customers_pb2.DESCRIPTOR, echo_file()]))
    document = openapi_document(table)
    assert document["openapi"] == "3.1.0"
    register = document["paths"]["/v1/customers"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/travel.customers.v1.RegisterRequest"
    }
    schemas = document["components"]["schemas"]
    assert set(schemas["travel.customers.v1.RegisterRequest"]["required"]) == {
        "email",
        "name",
        "password",
    }
    customer = schemas["travel.customers.v1.Customer"]["properties"]
    assert customer["createTime"] == {"type": "string", "format": "date-time"}
    nested = document["paths"]["/v1/inner/{inner.id}/things"]["get"]["parameters"]
    by_name = {p["name"]: p for p in nested}
    assert by_name["inner.id"]["in"] == "path"
    assert by_name["tags"]["schema"] == {
        "type": "array",
        "items": {"type": "string", "pattern": NO_CONTROL_CHARACTERS},
    }
    assert by_name["color"]["schema"]["enum"] == ["COLOR_UNSPECIFIED", "RED", "BLUE"]
    assert "inner.count" in by_name
    update = document["paths"]["/v1/things/{id}"]["patch"]
    assert "inner" not in {p["name"] for p in update["parameters"]}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert len({op["operationId"] for p in document["paths"].values() for op in p.values()}) == len(
        table.bindings
    )


def test_invalid_argument_is_400_for_a_broken_field_rule_and_422_otherwise() -> None:
    marker = {"@type": ERROR_INFO_TYPE, "reason": VIOLATION_REASON, "domain": VIOLATION_DOMAIN}
    bad_request = {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": []}
    code = grpc.StatusCode.INVALID_ARGUMENT
    assert http_status_for(code, [bad_request, marker]) == 400
    assert http_status_for(code, [bad_request]) == 422
    assert http_status_for(code, []) == 422
    assert http_status_for(code) == 400, "without details: the plain mapping"
    assert http_status_for(grpc.StatusCode.NOT_FOUND, [bad_request]) == 404
