"""healthz, openapi.json and extra routes served beside the transcoded ones."""

from __future__ import annotations

import uuid

from grpc_health.v1 import health_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.integration.gateway.fake_backends import CUSTOMERS_SERVICE, CallLog, start_backend
from tests.support.gateway import RunningGateway, running_gateway
from tests.unit.gateway.echo_proto import SERVICE as ECHO_SERVICE


async def test_healthz_serving(gateway: RunningGateway) -> None:
    reply = await gateway.client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "SERVING",
        "backends": {CUSTOMERS_SERVICE: "SERVING", ECHO_SERVICE: "SERVING"},
    }


async def test_healthz_degraded_when_a_backend_stops_serving(gateway: RunningGateway) -> None:
    assert gateway.health is not None
    await gateway.health.set(CUSTOMERS_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    reply = await gateway.client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["status"] == "DEGRADED"
    assert reply.json()["backends"][CUSTOMERS_SERVICE] == "NOT_SERVING"
    assert reply.json()["backends"][ECHO_SERVICE] == "SERVING"


async def test_healthz_degraded_when_the_backend_is_down(
    gateway_without_backend: RunningGateway,
) -> None:
    reply = await gateway_without_backend.client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["backends"][CUSTOMERS_SERVICE] in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}


async def test_openapi_document(gateway: RunningGateway) -> None:
    reply = await gateway.client.get("/openapi.json")
    assert reply.status_code == 200
    document = reply.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]["/v1/things/{id}"]) == {"get", "patch", "delete"}
    assert "/v1/things/{id}:cancel" in document["paths"]
    assert "bearerAuth" in document["components"]["securitySchemes"]
    assert "Error" in document["components"]["schemas"]


async def test_extra_routes_are_served_and_share_the_request_id() -> None:
    async def webhook(request: Request) -> Response:
        return JSONResponse({"received": len(await request.body())})

    log = CallLog()
    server, port, servicer = await start_backend(log)
    try:
        routes = [Route("/webhooks/payments", webhook, methods=["POST"])]
        async with running_gateway(f"127.0.0.1:{port}", log, servicer, routes) as running:
            request_id = uuid.uuid4().hex
            reply = await running.client.post(
                "/webhooks/payments", content=b"abc", headers={"x-request-id": request_id}
            )
            assert reply.json() == {"received": 3}
            assert reply.headers["x-request-id"] == request_id
            assert (await running.client.get("/webhooks/payments")).status_code == 405
    finally:
        await server.stop(grace=None)
