"""The gateway in front of the real customers service: 429 with Retry-After, counted per HTTP client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from travel.customers.v1 import customers_pb2

from gateway.app import build_app
from gateway.client_forwarding import ClientForwarding
from gateway.config import GatewayConfig
from kit.service_identity import service_credentials
from kit.settings import Env
from services.customers.app import CustomersProcess, start
from services.customers.config import CustomersConfig
from services.customers.passwords import Argon2Parameters
from tests.support.databases import migrated
from tests.support.gateway import serve_gateway

FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_kib=8192, parallelism=1)
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


@pytest.fixture
async def customers(tmp_path: Path, redis_url: str) -> AsyncIterator[CustomersProcess]:
    env = {
        "TRAVEL_DATA_DIR": str(tmp_path),
        "CUSTOMERS_PORT": "0",
        "REDIS_URL": redis_url,
        "TRAVEL_NAMESPACE": f"gwlimits{uuid.uuid4().hex[:10]}",
        "LOGIN_LIMIT_PER_EMAIL": "3",
        "LOGIN_LIMIT_PER_ADDRESS": "4",
    }
    config = replace(CustomersConfig.from_env(Env(env)), argon2=FAST_ARGON2)
    await migrated(config.database_url, config.schema, "customers")
    process = await start(config)
    yield process
    await process.stop()


@pytest.fixture
async def gateway_url(customers: CustomersProcess, tmp_path: Path) -> AsyncIterator[str]:
    config = GatewayConfig(backends={"customers": (f"127.0.0.1:{customers.server.port}",)})
    # The gateway's own key in the same data folder, whose public half the customers service trusts.
    credentials = service_credentials(Env({"TRAVEL_DATA_DIR": str(tmp_path)}), "gateway")
    app = build_app(config, files=[customers_pb2.DESCRIPTOR], forwarding=ClientForwarding(credentials))
    async with serve_gateway(app) as url:
        yield url


@asynccontextmanager
async def client_from(gateway_url: str, local_address: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client connecting from one loopback address (all of 127.0.0.0/8 is the machine)."""
    transport = httpx.AsyncHTTPTransport(local_address=local_address)
    async with httpx.AsyncClient(base_url=gateway_url, transport=transport) as client:
        yield client


def new_email() -> str:
    return f"gw.{uuid.uuid4().hex[:10]}@example.com"


async def login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/v1/auth/token", json={"email": email, "password": "wrong password"})


async def test_over_the_login_limit_rest_answers_429_with_retry_after(gateway_url: str) -> None:
    email = new_email()
    async with client_from(gateway_url, "127.0.0.2") as client:
        for _ in range(3):
            assert (await login(client, email)).status_code == 401
        refused = await login(client, email)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = refused.json()
    assert body["code"] == 8  # RESOURCE_EXHAUSTED
    assert "too many login attempts" in body["message"]
    [retry] = [detail for detail in body["details"] if detail["@type"] == RETRY_INFO]
    assert retry["retryDelay"] == f"{refused.headers['retry-after']}s"


async def test_each_http_client_address_is_counted_on_its_own(gateway_url: str) -> None:
    async with client_from(gateway_url, "127.0.0.3") as busy:
        for _ in range(4):
            assert (await login(busy, new_email())).status_code == 401
        assert (await login(busy, new_email())).status_code == 429
    # Behind the same gateway, another client address still has its whole allowance.
    async with client_from(gateway_url, "127.0.0.4") as other:
        assert (await login(other, new_email())).status_code == 401


async def test_a_client_cannot_choose_its_address_with_x_forwarded_for(gateway_url: str) -> None:
    async with client_from(gateway_url, "127.0.0.5") as client:
        for n in range(4):
            headers = {"X-Forwarded-For": f"198.51.100.{n}"}
            reply = await client.post(
                "/v1/auth/token", json={"email": new_email(), "password": "wrong password"}, headers=headers
            )
            assert reply.status_code == 401
        assert (await login(client, new_email())).status_code == 429
