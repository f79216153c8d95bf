"""Running the real provider app over HTTP in tests, and small shared test vocabulary."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import uvicorn

from services.providers.config import ProviderConfig


class ServerThread:
    """uvicorn in a thread with its own event loop, bound to a socket we picked beforehand."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


@dataclass
class Provider:
    kind: str
    url: str
    config: ProviderConfig
    server: ServerThread

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)


def today() -> date:
    return datetime.now(UTC).date()


def days_ahead(n: int) -> str:
    return (today() + timedelta(n)).isoformat()


def flight_id(origin: str = "LIS", destination: str = "MAD", days: int = 10, slot: int = 1) -> str:
    return f"FL-{origin}-{destination}-{(today() + timedelta(days)):%Y%m%d}-{slot}"


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


def new_reference() -> str:
    return f"session-{uuid.uuid4().hex[:12]}"


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll an async check until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)
