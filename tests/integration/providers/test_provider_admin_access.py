"""The providers' /admin routes: the admin token when one is set, and a port of their own when asked."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from kit.settings import Env
from simulated_world.providers.app import build_app
from simulated_world.providers.config import ProviderConfig
from tests.support.polling import wait_for
from tests.support.providers import StartProvider

TOKEN = "Zq8s-3kVb7Lw2Rn9Tx4Pm6Yc1Hd5Gf0Ja"


async def test_with_a_token_every_admin_route_wants_it(start_provider: StartProvider) -> None:
    async with start_provider("payment", PROVIDER_ADMIN_TOKEN=TOKEN).client() as client:
        for method, path in [
            ("GET", "/admin/chaos"),
            ("PUT", "/admin/chaos"),
            ("GET", "/admin/clock"),
            ("PUT", "/admin/clock"),
            ("GET", "/admin/webhooks"),
        ]:
            anonymous = await client.request(method, path, json={})
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            wrong = await client.request(method, path, json={}, headers={"Authorization": f"Bearer {TOKEN}x"})
            assert wrong.status_code == 401, (method, path)
        allowed = await client.get("/admin/chaos", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        changed = await client.put(
            "/admin/clock", json={"offsetSeconds": 5}, headers={"Authorization": f"bearer {TOKEN}"}
        )
        assert changed.status_code == 200 and changed.json()["offsetSeconds"] == 5
        # Health and the business routes never needed the operator's token.
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/payments/nope")).status_code == 404


async def test_without_a_token_in_development_the_admin_routes_stay_open(
    start_provider: StartProvider,
) -> None:
    async with start_provider("hotel").client() as client:
        assert (await client.get("/admin/chaos")).status_code == 200


class TwoPortServer:
    """The provider app on a public and an admin listener, as `python -m simulated_world.providers` does."""

    def __init__(self, config: ProviderConfig, public: socket.socket, admin: socket.socket) -> None:
        self.server = uvicorn.Server(uvicorn.Config(build_app(config), log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[public, admin])), daemon=True
        )
        self.thread.start()
        wait_for(
            lambda: self.server.started, timeout=20, what="the provider to start", interval=0.01,
            abort_if=lambda: not self.thread.is_alive() and "its thread ended",
        )  # fmt: skip

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def two_ports(tmp_path: Path) -> Iterator[tuple[str, str]]:
    public, admin = listener(), listener()
    env = {
        "PROVIDER_KIND": "payment",
        "TRAVEL_DATA_DIR": str(tmp_path),
        "PROVIDER_PORT": str(public.getsockname()[1]),
        "PROVIDER_ADMIN_PORT": str(admin.getsockname()[1]),
        "PROVIDER_ADMIN_TOKEN": TOKEN,
    }
    server = TwoPortServer(ProviderConfig.from_env(Env(env)), public, admin)
    try:
        yield f"http://127.0.0.1:{public.getsockname()[1]}", f"http://127.0.0.1:{admin.getsockname()[1]}"
    finally:
        server.stop()
        public.close()
        admin.close()


async def test_with_an_admin_port_the_public_port_has_no_admin_routes(two_ports: tuple[str, str]) -> None:
    public, admin = two_ports
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{public}/admin/chaos", headers=authorized)).status_code == 404
        assert (await client.get(f"{public}/admin/webhooks", headers=authorized)).status_code == 404
        assert (await client.get(f"{admin}/admin/chaos", headers=authorized)).status_code == 200
        assert (await client.get(f"{admin}/admin/chaos")).status_code == 401
        # The hosted checkout page and the payments API stay on the public port.
        assert (await client.get(f"{public}/payments/nope")).status_code == 404
        assert (await client.get(f"{public}/healthz")).status_code == 200
