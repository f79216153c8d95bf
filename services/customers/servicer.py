"""gRPC entry point of the customers service: proto in, use case, proto out."""

from __future__ import annotations

from typing import Any

from travel.customers.v1 import customers_pb2, customers_pb2_grpc

from kit.auth import current_caller
from kit.forwarding import ClientAddresses
from kit.timestamps import timestamp
from services.customers.accounts import Accounts
from services.customers.domain import Customer

SERVICE_NAME = customers_pb2.DESCRIPTOR.services_by_name["CustomersService"].full_name
PUBLIC_METHODS = (f"/{SERVICE_NAME}/Register", f"/{SERVICE_NAME}/Login")
ADMIN_METHODS = (f"/{SERVICE_NAME}/FindCustomer",)


def _customer_message(customer: Customer) -> customers_pb2.Customer:
    return customers_pb2.Customer(
        id=customer.id, email=customer.email, name=customer.name, create_time=timestamp(customer.created_at)
    )


class CustomersServicer(customers_pb2_grpc.CustomersServiceServicer):
    def __init__(self, accounts: Accounts, addresses: ClientAddresses) -> None:
        self._accounts = accounts
        self._addresses = addresses

    def _client_address(self, context: Any) -> str:
        return self._addresses.address_of(context.invocation_metadata(), context.peer())

    async def Register(
        self, request: customers_pb2.RegisterRequest, context: Any
    ) -> customers_pb2.RegisterResponse:
        customer = await self._accounts.register(
            request.email, request.name, request.password, self._client_address(context), request.request_id
        )
        return customers_pb2.RegisterResponse(customer=_customer_message(customer))

    async def Login(self, request: customers_pb2.LoginRequest, context: Any) -> customers_pb2.LoginResponse:
        token = await self._accounts.login(request.email, request.password, self._client_address(context))
        return customers_pb2.LoginResponse(
            access_token=token.access_token, token_type="Bearer", expires_in=token.expires_in
        )

    async def GetMe(
        self, request: customers_pb2.GetMeRequest, context: object
    ) -> customers_pb2.GetMeResponse:
        customer = await self._accounts.get(current_caller().subject)
        return customers_pb2.GetMeResponse(customer=_customer_message(customer))

    async def FindCustomer(
        self, request: customers_pb2.FindCustomerRequest, context: object
    ) -> customers_pb2.FindCustomerResponse:
        customer = await self._accounts.find_by_email(request.email)
        return customers_pb2.FindCustomerResponse(customer=_customer_message(customer))
