"""Test servicers behind the gateway: customers kept in a dict, and an echo of travel.echo.v1."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from travel.customers.v1 import customers_pb2, customers_pb2_grpc

from kit import errors
from kit.grpc_status import to_rpc_status
from tests.unit.gateway.echo_proto import RULES, SERVICE, echo_file

CUSTOMERS_SERVICE = "travel.customers.v1.CustomersService"


@dataclass
class CallLog:
    """What the backends received, so tests can check forwarding and that nothing was sent."""

    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def record(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.calls.append((method, dict(context.invocation_metadata() or ())))

    def last_metadata(self) -> dict[str, str]:
        return self.calls[-1][1]


class FakeCustomers(customers_pb2_grpc.CustomersServiceServicer):
    """Register, Login and GetMe over a dict; the token is `token-<customer id>`."""

    def __init__(self, log: CallLog) -> None:
        self.log = log
        self.by_email: dict[str, tuple[customers_pb2.Customer, str]] = {}

    async def Register(self, request: Any, context: Any) -> customers_pb2.RegisterResponse:
        self.log.record("Register", context)
        violations = []
        if "@" not in request.email:
            violations.append(errors.FieldViolation("email", "must be an email address"))
        if len(request.password) < 8:
            violations.append(errors.FieldViolation("password", "must be at least 8 characters"))
        if violations:
            await context.abort_with_status(to_rpc_status(errors.InvalidArgument(violations)))
        if request.email in self.by_email:
            await context.abort_with_status(to_rpc_status(errors.AlreadyExists("email taken")))
        created = timestamp_pb2.Timestamp(seconds=1_700_000_000)
        customer = customers_pb2.Customer(
            id=uuid.uuid4().hex, email=request.email, name=request.name, create_time=created
        )
        self.by_email[request.email] = (customer, request.password)
        return customers_pb2.RegisterResponse(customer=customer)

    async def Login(self, request: Any, context: Any) -> customers_pb2.LoginResponse:
        self.log.record("Login", context)
        found = self.by_email.get(request.email)
        if found is None or found[1] != request.password:
            await context.abort_with_status(to_rpc_status(errors.Unauthenticated("bad credentials")))
        assert found is not None
        return customers_pb2.LoginResponse(
            access_token=f"token-{found[0].id}", token_type="Bearer", expires_in=900
        )

    async def GetMe(self, request: Any, context: Any) -> customers_pb2.GetMeResponse:
        self.log.record("GetMe", context)
        authorization = dict(context.invocation_metadata() or ()).get("authorization", "")
        for customer, _ in self.by_email.values():
            if authorization == f"Bearer token-{customer.id}":
                return customers_pb2.GetMeResponse(customer=customer)
        await context.abort_with_status(to_rpc_status(errors.Unauthenticated("who are you?")))
        raise AssertionError("unreachable")


def echo_handler(log: CallLog) -> grpc.GenericRpcHandler:
    """Every EchoService method returns its request, so tests see exactly what was mapped."""
    message_class = GetMessageClass(echo_file().message_types_by_name["EchoMessage"])

    def make(name: str) -> grpc.RpcMethodHandler:
        async def echo(request: Any, context: Any) -> Any:
            log.record(name, context)
            return request

        return grpc.unary_unary_rpc_method_handler(
            echo,
            request_deserializer=message_class.FromString,
            response_serializer=message_class.SerializeToString,
        )

    return grpc.method_handlers_generic_handler(SERVICE, {name: make(name) for name, _ in RULES})


async def start_backend(log: CallLog) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A loopback grpc.aio server with the fake customers, the echo service and health."""
    server = grpc.aio.server()
    customers_pb2_grpc.add_CustomersServiceServicer_to_server(FakeCustomers(log), server)
    server.add_generic_rpc_handlers([echo_handler(log)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in (CUSTOMERS_SERVICE, SERVICE):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port, health_servicer
