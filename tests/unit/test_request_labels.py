"""What an HTTP request is counted under: a route template and a known method, never the raw path."""

from __future__ import annotations

from starlette.routing import Route
from travel.customers.v1 import customers_pb2

from gateway.rest import TranscodingRoute, served_route
from gateway.routes import RouteTable, bindings_of_files
from kit.http_metrics import route_template
from tests.unit.gateway.echo_proto import echo_file


async def _endpoint(_: object) -> None:
    return None


def test_a_routed_request_is_labelled_by_its_template() -> None:
    scope = {
        "method": "POST",
        "path": "/holds/h-123/confirm",
        "route": Route("/holds/{id}/confirm", _endpoint),
    }
    assert route_template(scope) == "POST /holds/{id}/confirm"


def test_an_unrouted_request_and_an_unknown_method_add_no_label_of_their_own() -> None:
    assert route_template({"method": "GET", "path": "/x/1"}) == "GET unrouted"
    assert route_template({"method": "BREW", "path": "/pot"}) == "OTHER unrouted"


def test_a_transcoded_request_is_labelled_by_its_binding_template() -> None:
    route = TranscodingRoute(RouteTable(bindings_of_files([customers_pb2.DESCRIPTOR, echo_file()])), 5, 1024)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/things/t-42:cancel",
        "raw_path": b"/v1/things/t-42:cancel",
    }
    _, child = route.matches(scope)
    assert served_route({**scope, **child}) == "POST /v1/things/{id}:cancel"
    assert served_route({"method": "GET", "path": "/healthz"}) == "GET unrouted"
