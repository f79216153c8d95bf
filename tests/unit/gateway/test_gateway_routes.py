"""The route table built from descriptors: matching, ordering, verbs, 405 support."""

from __future__ import annotations

import pytest
from travel.customers.v1 import customers_pb2

from gateway.routes import RouteTable, bindings_of_files
from tests.unit.gateway.echo_proto import echo_file


@pytest.fixture(scope="module")
def table() -> RouteTable:
    return RouteTable(bindings_of_files([customers_pb2.DESCRIPTOR, echo_file()]))


def method_of(table: RouteTable, http_method: str, path: str) -> str | None:
    found = table.match(http_method, path)
    return None if found is None else found.binding.method.name


def test_every_annotated_method_is_bound_and_internal_ones_are_not(table: RouteTable) -> None:
    names = {binding.method.name for binding in table.bindings}
    assert {"Register", "Login", "GetMe", "Get", "Create", "Update", "Cancel"} <= names
    assert "Internal" not in names


def test_additional_bindings_route_to_the_same_rpc(table: RouteTable) -> None:
    assert method_of(table, "GET", "/v1/things/t1") == "Get"
    assert method_of(table, "GET", "/v1/rooms/r1") == "Get"


def test_literal_beats_variable(table: RouteTable) -> None:
    assert method_of(table, "GET", "/v1/things/mine") == "GetMine"


def test_verb_routes(table: RouteTable) -> None:
    found = table.match("POST", "/v1/things/t1:cancel")
    assert found is not None
    assert (found.binding.method.name, found.variables) == ("Cancel", {"id": "t1"})


def test_colon_in_an_id_without_a_verb_route_still_matches(table: RouteTable) -> None:
    found = table.match("GET", "/v1/things/a:b")
    assert found is not None
    assert found.variables == {"id": "a:b"}


def test_unknown_path_and_wrong_method(table: RouteTable) -> None:
    assert table.match("GET", "/v1/nowhere") is None
    assert table.match("PUT", "/v1/customers/me") is None
    assert table.allowed_methods("/v1/customers/me") == ["GET"]
    assert table.allowed_methods("/v1/things/t1") == ["DELETE", "GET", "PATCH"]
    assert table.allowed_methods("/v1/nowhere") == []


def test_rpc_path_and_package(table: RouteTable) -> None:
    found = table.match("GET", "/v1/customers/me")
    assert found is not None
    assert found.binding.rpc_path == "/travel.customers.v1.CustomersService/GetMe"
    assert found.binding.package == "travel.customers.v1"


def test_a_verb_routes_path_belongs_to_the_verb_route_alone(table: RouteTable) -> None:
    """`/v1/things/t1:cancel` is the Cancel route's path: GET there is 405, never Get of `t1:cancel`."""
    assert table.match("GET", "/v1/things/t1:cancel") is None
    assert table.allowed_methods("/v1/things/t1:cancel") == ["POST"]
    assert table.allowed_methods("/v1/things/a:b") == ["DELETE", "GET", "PATCH"]
