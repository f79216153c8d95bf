"""The real provider app served over HTTP in tests, a webhook receiver, and the providers' test vocabulary."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn

from simulated_world.providers.config import ProviderConfig
from tests.support.polling import wait_for

# Payment webhooks retried within the tests' deadlines.
FAST_WEBHOOKS = {"PAYMENT_WEBHOOK_RETRY_BASE_MS": "20", "PAYMENT_WEBHOOK_RETRY_MAX_MS": "200"}


class ServerThread:
    """uvicorn in a thread with its own event loop, bound to a socket we picked beforehand."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
        # and without it every response waits for a delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        wait_for(
            lambda: self.server.started, timeout=20, what="the provider's server to start", interval=0.01,
            abort_if=lambda: not self.thread.is_alive() and "its thread ended",
        )  # fmt: skip

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


# What the start_provider fixture hands a test: start_provider("hotel", PROVIDER_HOLD_WINDOW_SECONDS="5").
StartProvider = Callable[..., Provider]


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


@dataclass
class ReceivedWebhook:
    body: bytes
    signature: str | None


class WebhookReceiver:
    """A real HTTP server that answers the scripted statuses in turn (then 200) and keeps every call."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[ReceivedWebhook] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(ReceivedWebhook(body, self.headers.get("Travel-Signature")))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/payments"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
