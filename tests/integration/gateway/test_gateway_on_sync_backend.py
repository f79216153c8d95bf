"""The gateway and the generated stubs against a synchronous servicer hosted by pytest-grpc's fixtures.

pytest-grpc serves a plain `grpc.server` on a thread pool: the services themselves are `async def`
on grpc.aio and cannot run there, but a hand-written synchronous servicer can, which checks the
gateway against a backend that shares none of the project's server code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import timestamp_pb2
from travel.customers.v1 import customers_pb2, customers_pb2_grpc

from gateway.app import build_app
from gateway.config import GatewayConfig
from tests.support.gateway import serve_gateway


class SyncCustomers(customers_pb2_grpc.CustomersServiceServicer):
    """Echoes what the gateway forwarded, so the test sees the request as the backend received it."""

    def Register(self, request: Any, context: grpc.ServicerContext) -> customers_pb2.RegisterResponse:
        if "@" not in request.email:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "email: must contain @")
        customer = customers_pb2.Customer(
            id=f"c-{request.email}",
            email=request.email,
            name=request.name,
            create_time=timestamp_pb2.Timestamp(seconds=1_700_000_000),
        )
        return customers_pb2.RegisterResponse(customer=customer)

    def Login(self, request: Any, context: grpc.ServicerContext) -> customers_pb2.LoginResponse:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong email or password")
        raise AssertionError("abort raises")

    def GetMe(self, request: Any, context: grpc.ServicerContext) -> customers_pb2.GetMeResponse:
        headers = dict(context.invocation_metadata())
        token = str(headers.get("authorization", "")).removeprefix("Bearer ")
        return customers_pb2.GetMeResponse(customer=customers_pb2.Customer(id=token, name="Sync"))


@pytest.fixture(scope="module")
def grpc_add_to_server() -> Callable[[Any, grpc.Server], None]:
    return customers_pb2_grpc.add_CustomersServiceServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer() -> SyncCustomers:
    return SyncCustomers()


@pytest.fixture(scope="module")
def grpc_stub_cls() -> type[customers_pb2_grpc.CustomersServiceStub]:
    return customers_pb2_grpc.CustomersServiceStub


def test_generated_stub_reaches_every_method(grpc_stub: customers_pb2_grpc.CustomersServiceStub) -> None:
    registered = grpc_stub.Register(customers_pb2.RegisterRequest(email="a@example.com", name="A"))
    assert registered.customer.email == "a@example.com"
    me = grpc_stub.GetMe(customers_pb2.GetMeRequest(), metadata=[("authorization", "Bearer t-1")])
    assert me.customer.id == "t-1"
    with pytest.raises(grpc.RpcError) as refused:
        grpc_stub.Login(customers_pb2.LoginRequest(email="a@example.com", password="x"))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_gateway_transcodes_to_a_synchronous_backend(grpc_server: grpc.Server, grpc_addr: str) -> None:
    config = GatewayConfig(backends={"customers": (grpc_addr,)}, rpc_timeout_seconds=5.0)
    app = build_app(config, files=[customers_pb2.DESCRIPTOR])
    email = f"sync-{uuid.uuid4().hex[:8]}@example.com"
    async with serve_gateway(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        created = await client.post("/v1/customers", json={"email": email, "name": "Ana", "password": "p"})
        assert created.status_code == 200
        assert created.json()["customer"] == {
            "id": f"c-{email}",
            "email": email,
            "name": "Ana",
            "createTime": "2023-11-14T22:13:20Z",
        }
        me = await client.get("/v1/customers/me", headers={"Authorization": "Bearer tok-9"})
        assert me.json()["customer"]["id"] == "tok-9"
        refused = await client.post("/v1/auth/token", json={"email": email, "password": "wrong"})
        assert refused.status_code == 401
        assert refused.json()["message"] == "wrong email or password"
        invalid = await client.post("/v1/customers", json={"email": "nope", "name": "A", "password": "p"})
        assert invalid.status_code == 422, "a refusal without the field-rules marker is a business one"
