"""The published contract: valid OpenAPI 3.1, the services' field rules in it, security and errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from travel.customers.v1 import customers_pb2
from travel.flights.v1 import flights_pb2
from travel.hotel.v1 import hotel_pb2

from gateway.descriptors import load_generated_files
from gateway.openapi import openapi_document
from gateway.routes import RouteTable, bindings_of_files
from kit.error_reasons import ErrorReason
from kit.field_rules import is_public, rules_of
from services.customers.servicer import PUBLIC_METHODS as CUSTOMERS_PUBLIC
from services.flights.servicer import PUBLIC_METHODS as FLIGHTS_PUBLIC
from services.hotel.servicer import PUBLIC_METHODS as HOTEL_PUBLIC
from services.reservations.validation import CATALOG_ID_PATTERN

SCHEMAS = "#/components/schemas/"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document(RouteTable(bindings_of_files(load_generated_files())))


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, verb, op) for path, item in document["paths"].items() for verb, op in item.items()]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document, cls=OpenAPIV31SpecValidator)
    assert "nullable" not in json.dumps(document), "3.1 spells an optional null as a type list"


def test_request_schemas_state_the_rules_the_services_enforce(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    register = schemas["travel.customers.v1.RegisterRequest"]
    assert register["additionalProperties"] is False
    assert set(register["required"]) == {"email", "name", "password"}
    email, password = register["properties"]["email"], register["properties"]["password"]
    assert (email["format"], email["maxLength"]) == ("email", 254)
    assert (password["minLength"], password["maxLength"]) == (10, 128)
    hotel = document["paths"]["/v1/sessions/{session_id}/hotel"]["post"]
    body = hotel["requestBody"]["content"]["application/json"]["schema"]
    assert "sessionId" not in body["properties"], "the path carries it"
    assert body["properties"]["hotelId"]["pattern"] == CATALOG_ID_PATTERN
    assert body["properties"]["guests"] == {
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "maximum": 9,
    }
    [session_id] = hotel["parameters"]
    assert session_id["schema"]["format"] == "uuid"
    listing = {p["name"]: p["schema"] for p in document["paths"]["/v1/sessions"]["get"]["parameters"]}
    assert listing["pageSize"]["maximum"] == 100
    assert {"const": ""} in listing["pageToken"]["anyOf"], "an empty token means the first page"


def test_every_string_a_request_carries_refuses_control_characters(document: dict[str, Any]) -> None:
    def strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in schema:
            return strings(document["components"]["schemas"][schema["$ref"].removeprefix(SCHEMAS)])
        found = [schema] if schema.get("type") == "string" else []
        for nested in [*schema.get("properties", {}).values(), *schema.get("anyOf", [])]:
            found += strings(nested)
        if "items" in schema:
            found += strings(schema["items"])
        return found

    checked = 0
    for _, _, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        schemas = [p["schema"] for p in operation["parameters"]] + ([body["schema"]] if body else [])
        for schema in schemas:
            for string in strings(schema):
                patterns = [string.get("pattern")] + [a.get("pattern") for a in string.get("anyOf", [])]
                pattern = next(p for p in patterns if p)
                assert not re.search(pattern, "HTL\x00LIS") and not re.search(pattern, "a\x85b"), pattern
                checked += 1
    assert checked > 15


def test_public_operations_need_no_token_and_the_rest_a_bearer_token(document: dict[str, Any]) -> None:
    public = {op["operationId"] for _, _, op in _operations(document) if op["security"] == []}
    assert public == {
        "CustomersService_Register",
        "CustomersService_Login",
        "HotelService_SearchHotels",
        "FlightsService_SearchFlights",
    }
    assert "security" not in document, "each operation says what it needs"
    for _, _, operation in _operations(document):
        assert operation["security"] in ([], [{"bearerAuth": []}])


def test_the_public_option_matches_what_the_services_let_in() -> None:
    declared = {
        f"/{service.full_name}/{method.name}"
        for module in (customers_pb2, hotel_pb2, flights_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
        if is_public(method)
    }
    assert declared == {*CUSTOMERS_PUBLIC, *HOTEL_PUBLIC, *FLIGHTS_PUBLIC}


def test_every_error_an_operation_can_answer_is_documented(document: dict[str, Any]) -> None:
    for path, verb, operation in _operations(document):
        statuses = set(operation["responses"])
        assert {"200", "400", "401", "422", "429", "503", "504"} <= statuses, (path, verb)
        assert "default" not in statuses
        if operation["security"]:
            assert {"403", "404"} <= statuses, (path, verb)
        if "requestBody" in operation:
            assert {"409", "413"} <= statuses, (path, verb)
    for response in document["components"]["responses"].values():
        assert response["content"]["application/json"]["schema"] == {"$ref": SCHEMAS + "Error"}


def test_the_catalog_id_rule_of_the_protos_is_the_one_the_booking_services_check() -> None:
    fields = [
        hotel_pb2.ReserveHotelRequest.DESCRIPTOR.fields_by_name["hotel_id"],
        flights_pb2.ReserveFlightsRequest.DESCRIPTOR.fields_by_name["outbound_flight_id"],
        flights_pb2.ReserveFlightsRequest.DESCRIPTOR.fields_by_name["return_flight_id"],
    ]
    for field in fields:
        rules = rules_of(field)
        assert rules is not None and rules.pattern == CATALOG_ID_PATTERN


def test_a_field_the_path_binds_is_not_also_a_query_parameter(document: dict[str, Any]) -> None:
    """Query names are JSON names: `{customer_id}` in the path binds the query name `customerId`."""
    for path, operations in document["paths"].items():
        for operation in operations.values():
            parameters = operation.get("parameters", [])
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            in_query = {p["name"] for p in parameters if p["in"] == "query"}
            camel = {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name) for name in in_path}
            assert not (camel & in_query), (path, camel & in_query)


def test_error_details_list_every_reason_of_the_protos(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    info = schemas["ErrorInfo"]
    assert set(info["properties"]["reason"]["enum"]) == {reason.value for reason in ErrorReason}
    assert {"reason", "domain"} <= set(info["required"])
    items = schemas["Error"]["properties"]["details"]["items"]
    assert {"$ref": SCHEMAS + "ErrorInfo"} in items["anyOf"]
