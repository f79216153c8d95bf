"""Login and registration limits over real gRPC, counted in the real Redis, shared by replicas."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import func, select
from travel.customers.v1 import customers_pb2, customers_pb2_grpc

from kit.forwarding import forwarding_metadata
from kit.service_identity import ServiceCredentials, dev_service_key
from kit.settings import Env
from kit.statements import Statement
from services.customers.app import CustomersProcess, start
from services.customers.config import CustomersConfig
from services.customers.passwords import Argon2Parameters
from services.customers.repository import customers
from tests.support.databases import migrated

FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_kib=8192, parallelism=1)
PASSWORD = "correct horse 1"
LIMITS = {
    "LOGIN_LIMIT_PER_EMAIL": "3",
    "LOGIN_LIMIT_PER_ADDRESS": "5",
    "REGISTER_LIMIT_PER_EMAIL": "2",
    "REGISTER_LIMIT_PER_ADDRESS": "4",
}
Metadata = Sequence[tuple[str, str]]


@pytest.fixture
def config(tmp_path: Path, redis_url: str) -> CustomersConfig:
    env = {
        "TRAVEL_DATA_DIR": str(tmp_path),
        "CUSTOMERS_PORT": "0",
        "REDIS_URL": redis_url,
        "TRAVEL_NAMESPACE": f"limits{uuid.uuid4().hex[:10]}",
        **LIMITS,
    }
    return replace(CustomersConfig.from_env(Env(env)), argon2=FAST_ARGON2)


@asynccontextmanager
async def serving(
    config: CustomersConfig,
) -> AsyncIterator[tuple[CustomersProcess, customers_pb2_grpc.CustomersServiceStub]]:
    await migrated(config.database_url, config.schema, "customers")
    process = await start(config)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{process.server.port}") as channel:
            yield process, customers_pb2_grpc.CustomersServiceStub(channel)
    finally:
        await process.stop()


@pytest.fixture
async def stub(config: CustomersConfig) -> AsyncIterator[customers_pb2_grpc.CustomersServiceStub]:
    async with serving(config) as (_, client):
        yield client


def new_email() -> str:
    return f"limit.{uuid.uuid4().hex[:10]}@example.com"


async def login_code(
    stub: customers_pb2_grpc.CustomersServiceStub,
    email: str,
    password: str = "wrong password",
    metadata: Metadata = (),
) -> grpc.StatusCode:
    try:
        await stub.Login(customers_pb2.LoginRequest(email=email, password=password), metadata=metadata)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def register_code(stub: customers_pb2_grpc.CustomersServiceStub, email: str) -> grpc.StatusCode:
    try:
        await stub.Register(customers_pb2.RegisterRequest(email=email, name="Lim", password=PASSWORD))
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def refusal_of(
    stub: customers_pb2_grpc.CustomersServiceStub, email: str, metadata: Metadata = ()
) -> tuple[int, str]:
    """The retry delay (s) and quota subject of a login refused as RESOURCE_EXHAUSTED."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Login(customers_pb2.LoginRequest(email=email, password=PASSWORD), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value.details()
    status = rpc_status.from_call(caught.value)
    assert status is not None
    retry, quota = error_details_pb2.RetryInfo(), error_details_pb2.QuotaFailure()
    assert any(detail.Unpack(retry) for detail in status.details)
    assert any(detail.Unpack(quota) for detail in status.details)
    return retry.retry_delay.seconds, quota.violations[0].subject


def gateway_forwarding(data_dir: Path, address: str, service: str = "gateway") -> list[tuple[str, str]]:
    """What the gateway adds to a call, signed with the key `service` has in this data folder."""
    credentials = ServiceCredentials(service, dev_service_key(data_dir, service))
    return forwarding_metadata(address, credentials)


async def test_logins_for_one_email_are_refused_over_the_limit_with_retry_info(
    stub: customers_pb2_grpc.CustomersServiceStub,
) -> None:
    email = new_email()
    assert await register_code(stub, email) == grpc.StatusCode.OK
    for _ in range(3):
        assert await login_code(stub, email) == grpc.StatusCode.UNAUTHENTICATED
    # Even the right password waits: the limit is on attempts, not on failures.
    delay, subject = await refusal_of(stub, email)
    assert subject == "login:email"
    assert 1 <= delay <= 60
    # Another email from the same address is still below the address limit (5): this is the 5th.
    assert await login_code(stub, new_email()) == grpc.StatusCode.UNAUTHENTICATED
    _, subject = await refusal_of(stub, new_email())
    assert subject == "login:address"


async def test_addresses_forwarded_by_the_gateway_are_counted_separately(
    stub: customers_pb2_grpc.CustomersServiceStub, config: CustomersConfig, tmp_path: Path
) -> None:
    first = gateway_forwarding(tmp_path, "198.51.100.1")
    for _ in range(5):
        assert await login_code(stub, new_email(), metadata=first) == grpc.StatusCode.UNAUTHENTICATED
    _, subject = await refusal_of(stub, new_email(), metadata=first)
    assert subject == "login:address"
    second = gateway_forwarding(tmp_path, "198.51.100.2")
    assert await login_code(stub, new_email(), metadata=second) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_forwarded_address_without_the_gateways_proof_is_ignored(
    stub: customers_pb2_grpc.CustomersServiceStub, tmp_path: Path
) -> None:
    spoofed: list[Metadata] = [
        [("x-forwarded-for", "198.51.100.10")],
        [("x-forwarded-for", "198.51.100.11"), ("x-forwarder-authorization", "Bearer not.a.token")],
        gateway_forwarding(tmp_path, "198.51.100.12", service="sessions"),
        [("x-forwarded-for", "198.51.100.13")],
        [("x-forwarded-for", "198.51.100.14")],
    ]
    # Each claims a fresh address, yet all count against the real peer (127.0.0.1): limit 5.
    for metadata in spoofed:
        assert await login_code(stub, new_email(), metadata=metadata) == grpc.StatusCode.UNAUTHENTICATED
    _, subject = await refusal_of(stub, new_email(), metadata=[("x-forwarded-for", "198.51.100.15")])
    assert subject == "login:address"


async def test_replicas_on_one_redis_share_the_count(config: CustomersConfig, tmp_path: Path) -> None:
    email = new_email()
    async with AsyncExitStack() as stack:
        _, one = await stack.enter_async_context(serving(config))
        _, two = await stack.enter_async_context(serving(config))
        assert await register_code(one, email) == grpc.StatusCode.OK
        for replica in (one, two, one):
            assert await login_code(replica, email, PASSWORD) == grpc.StatusCode.OK
        _, subject = await refusal_of(two, email)
        assert subject == "login:email"
        _, subject = await refusal_of(one, email)
        assert subject == "login:email"


async def test_registrations_are_limited_per_email_and_per_address_and_a_refusal_writes_nothing(
    config: CustomersConfig,
) -> None:
    async with serving(config) as (process, stub):
        email = new_email()
        assert await register_code(stub, email) == grpc.StatusCode.OK
        assert await register_code(stub, email) == grpc.StatusCode.ALREADY_EXISTS
        assert await register_code(stub, email) == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The address has made 3 attempts; its limit is 4.
        assert await register_code(stub, new_email()) == grpc.StatusCode.OK
        assert await register_code(stub, new_email()) == grpc.StatusCode.RESOURCE_EXHAUSTED
        count = Statement(select(func.count()).select_from(customers))
        assert await process.database.read(lambda conn: conn.scalar(count)) == 2


async def test_invalid_requests_are_refused_before_they_count(
    stub: customers_pb2_grpc.CustomersServiceStub,
) -> None:
    email = new_email()
    for _ in range(6):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Login(customers_pb2.LoginRequest(email=email, password=""))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await login_code(stub, email) == grpc.StatusCode.UNAUTHENTICATED
