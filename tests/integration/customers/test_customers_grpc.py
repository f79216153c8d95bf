"""The customers service over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import select
from travel.customers.v1 import customers_pb2, customers_pb2_grpc

from kit.settings import Env
from kit.statements import Statement
from services.customers.app import CustomersProcess, start
from services.customers.config import CustomersConfig
from services.customers.passwords import Argon2Parameters
from services.customers.repository import customers
from tests.support.databases import migrated

FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_kib=8192, parallelism=1)


@pytest.fixture
async def config(
    database: tuple[str, str | None], tmp_path: Path, redis_url: str, unique_id: str
) -> CustomersConfig:
    url, schema = database
    env = Env(
        {
            "TRAVEL_DATA_DIR": str(tmp_path),
            "CUSTOMERS_PORT": "0",
            "GRPC_HOST": "127.0.0.1",
            "REDIS_URL": redis_url,
            "TRAVEL_NAMESPACE": f"customers{unique_id}",
        }
    )
    base = CustomersConfig.from_env(env)
    await migrated(url, schema, "customers")
    return replace(base, database_url=url, schema=schema or "", argon2=FAST_ARGON2)


@pytest.fixture
async def process(config: CustomersConfig) -> AsyncIterator[CustomersProcess]:
    running = await start(config)
    yield running
    await running.stop()


@pytest.fixture
async def stub(process: CustomersProcess) -> AsyncIterator[customers_pb2_grpc.CustomersServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{process.server.port}") as channel:
        yield customers_pb2_grpc.CustomersServiceStub(channel)


def violated_fields(error: grpc.aio.AioRpcError) -> set[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    fields: set[str] = set()
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields |= {v.field for v in bad.field_violations}
    return fields


IDS = Statement(select(customers.c.id))
HASH = Statement(select(customers.c.password_hash))


async def count_customers(process: CustomersProcess) -> int:
    return len(await process.database.read(lambda conn: conn.rows(IDS)))


async def test_register_login_and_read_me(
    stub: customers_pb2_grpc.CustomersServiceStub, unique_id: str
) -> None:
    email = f"Ana.{unique_id}@Example.com"
    registered = await stub.Register(
        customers_pb2.RegisterRequest(email=email, name="Ana", password="correct horse 1")
    )
    assert registered.customer.email == email
    login = await stub.Login(customers_pb2.LoginRequest(email=email.lower(), password="correct horse 1"))
    assert login.token_type == "Bearer"
    me = await stub.GetMe(
        customers_pb2.GetMeRequest(),
        metadata=[("authorization", f"Bearer {login.access_token}")],
    )
    assert me.customer.id == registered.customer.id


async def test_duplicate_email_differing_in_case_is_refused(
    stub: customers_pb2_grpc.CustomersServiceStub, process: CustomersProcess, unique_id: str
) -> None:
    await stub.Register(
        customers_pb2.RegisterRequest(
            email=f"bo.{unique_id}@example.com", name="Bo", password="correct horse 1"
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Register(
            customers_pb2.RegisterRequest(
                email=f"BO.{unique_id}@EXAMPLE.com", name="Bo", password="correct horse 2"
            )
        )
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert await count_customers(process) == 1


async def test_invalid_registration_names_fields_and_writes_nothing(
    stub: customers_pb2_grpc.CustomersServiceStub, process: CustomersProcess
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Register(customers_pb2.RegisterRequest(email="nope", name="", password="short"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(caught.value) == {"email", "name", "password"}
    assert await count_customers(process) == 0


async def test_wrong_password_and_missing_token_are_unauthenticated(
    stub: customers_pb2_grpc.CustomersServiceStub, unique_id: str
) -> None:
    email = f"cy.{unique_id}@example.com"
    await stub.Register(customers_pb2.RegisterRequest(email=email, name="Cy", password="correct horse 1"))
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await stub.Login(customers_pb2.LoginRequest(email=email, password="wrong password"))
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.GetMe(customers_pb2.GetMeRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as garbage:
        await stub.GetMe(customers_pb2.GetMeRequest(), metadata=[("authorization", "Bearer x.y.z")])
    assert garbage.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_login_rehashes_when_parameters_change(config: CustomersConfig, unique_id: str) -> None:
    email = f"di.{unique_id}@example.com"
    first = await start(config)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{first.server.port}") as channel:
            await customers_pb2_grpc.CustomersServiceStub(channel).Register(
                customers_pb2.RegisterRequest(email=email, name="Di", password="correct horse 1")
            )
        old_hash = await first.database.read(lambda conn: conn.scalar(HASH))
    finally:
        await first.stop()
    stronger = replace(config, argon2=replace(FAST_ARGON2, time_cost=2))
    second = await start(stronger)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{second.server.port}") as channel:
            await customers_pb2_grpc.CustomersServiceStub(channel).Login(
                customers_pb2.LoginRequest(email=email, password="correct horse 1")
            )
        new_hash = await second.database.read(lambda conn: conn.scalar(HASH))
    finally:
        await second.stop()
    assert new_hash != old_hash
    assert "t=2" in new_hash and "t=1" in old_hash


async def test_a_register_retried_with_its_request_id_answers_the_first_customer(
    stub: customers_pb2_grpc.CustomersServiceStub, process: CustomersProcess, unique_id: str
) -> None:
    request = customers_pb2.RegisterRequest(
        email=f"cy.{unique_id}@example.com",
        name="Cy",
        password="correct horse 1",
        request_id="7e57c0de-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
    )
    first = await stub.Register(request)
    assert await stub.Register(request) == first
    assert await count_customers(process) == 1
    for changed in (
        customers_pb2.RegisterRequest(name="Cyrus"),
        customers_pb2.RegisterRequest(password="another horse 2"),
    ):
        other = customers_pb2.RegisterRequest()
        other.CopyFrom(request)
        other.MergeFrom(changed)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Register(other)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(refused.value) == {"requestId"}
    fresh = customers_pb2.RegisterRequest()
    fresh.CopyFrom(request)
    fresh.request_id = "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
    with pytest.raises(grpc.aio.AioRpcError) as exists:
        await stub.Register(fresh)
    assert exists.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await stub.Register(
            customers_pb2.RegisterRequest(email="d@e.fg", name="D", password="x" * 12, request_id="1")
        )
    assert violated_fields(malformed.value) == {"requestId"}
