"""uvicorn with limits a slow or greedy client cannot get around: connections, keep-alive, request heads.

uvicorn bounds concurrency (`limit_concurrency`, answered with 503) and idle keep-alive, but once
a client has sent its first byte nothing bounds how long the rest of the request head may take:
a client trickling header lines holds its connection, and counts against the concurrency limit,
for ever. The protocol classes here close a connection whose head is not complete within
`header_timeout_seconds` (408) or grows beyond `max_header_bytes` (431).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from kit.settings import ConfigError, Env
from kit.shared_settings import (
    BACKLOG,
    HEADER_TIMEOUT_SECONDS,
    HTTP_LIMITS,
    KEEP_ALIVE_SECONDS,
    MAX_CONNECTIONS,
    MAX_HEADER_BYTES,
)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a runtime dependency; h11 is uvicorn's fallback
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class HttpServerLimits:
    max_connections: int = MAX_CONNECTIONS
    keep_alive_seconds: int = KEEP_ALIVE_SECONDS
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS
    max_header_bytes: int = MAX_HEADER_BYTES
    backlog: int = BACKLOG
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (a reverse proxy in front); none
    # by default, so a client cannot pick the address it is counted under.
    forwarded_allow_ips: str = ""

    @classmethod
    def from_env(cls, env: Env, prefix: str) -> HttpServerLimits:
        """`<prefix>_MAX_CONNECTIONS`, `_KEEP_ALIVE_SECONDS`, `_HEADER_TIMEOUT_SECONDS`,
        `_MAX_HEADER_BYTES`, `_BACKLOG`, `_FORWARDED_ALLOW_IPS`."""
        declared = HTTP_LIMITS[prefix]
        limits = cls(
            max_connections=declared.max_connections.read(env),
            keep_alive_seconds=declared.keep_alive_seconds.read(env),
            header_timeout_seconds=declared.header_timeout_seconds.read(env),
            max_header_bytes=declared.max_header_bytes.read(env),
            backlog=declared.backlog.read(env),
            forwarded_allow_ips=declared.forwarded_allow_ips.read(env),
        )
        if "*" in limits.forwarded_allow_ips.split(","):
            raise ConfigError(f"{prefix}_FORWARDED_ALLOW_IPS must list proxies, not '*'")
        return limits


class HeadDeadline:
    """Mixin over uvicorn's HTTP protocols: each request head must arrive whole, in time and in size."""

    header_timeout_seconds: float = 10.0
    max_header_bytes: int = 32 * 1024

    # Provided by the uvicorn protocol this is mixed into.
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._awaited_after: Any = None
        super().connection_made(transport)  # type: ignore[misc]
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None:
            super().data_received(data)  # type: ignore[misc]
            return
        self._head_bytes += len(data)
        super().data_received(data)  # type: ignore[misc]
        if self.cycle is not self._awaited_after or self.transport.get_protocol() is not self:
            self._stop_waiting()  # the head is complete (or the connection was upgraded)
        elif self._head_bytes > self.max_header_bytes:
            self._refuse(b"431 Request Header Fields Too Large")

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        # Unless a pipelined request's head is already here, the next one must arrive in time too.
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)  # type: ignore[misc]

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_bytes = 0
        self._awaited_after = self.cycle
        self._head_timer = self.loop.call_later(self.header_timeout_seconds, self._head_too_slow)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._head_bytes:
            self._refuse(b"408 Request Timeout")
        elif not self.transport.is_closing():
            self.transport.close()  # idle: nothing was asked, so nothing is answered

    def _refuse(self, status: bytes) -> None:
        self._stop_waiting()
        if not self.transport.is_closing():
            head = b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            self.transport.write(head)
            self.transport.close()


def guarded_protocol(limits: HttpServerLimits) -> type[asyncio.Protocol]:
    """uvicorn's fastest available HTTP protocol, with the head deadline and size cap of `limits`."""
    base: type[asyncio.Protocol] = HttpToolsProtocol if HttpToolsProtocol is not None else H11Protocol
    attributes = {
        "header_timeout_seconds": limits.header_timeout_seconds,
        "max_header_bytes": limits.max_header_bytes,
    }
    return type(f"Guarded{base.__name__}", (HeadDeadline, base), attributes)


def server_config(app: Any, host: str, port: int, limits: HttpServerLimits, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration with every limit applied; `options` are uvicorn's own (log_level, ...)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.keep_alive_seconds,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        backlog=limits.backlog,
        proxy_headers=bool(limits.forwarded_allow_ips),
        forwarded_allow_ips=limits.forwarded_allow_ips or None,
        **options,
    )


def serve(
    app: Any, host: str, port: int, limits: HttpServerLimits, extra_ports: Sequence[int] = (), **options: Any
) -> None:
    """Run the app until a stop signal, like `uvicorn.run`, under the limits; `extra_ports` are more
    listeners of the same app (the app can tell them apart by `scope["server"]`)."""
    config = server_config(app, host, port, limits, **options)
    if not extra_ports:
        QuietServer(config).run()
        return
    listeners = [_listener(host, listen, limits.backlog) for listen in (port, *extra_ports)]
    QuietServer(config).run(sockets=listeners)


class DatedState(ServerState):
    """uvicorn's shared server state, whose Date header is read when a response is made: uvicorn's
    own renews it on a timer, and an idle server need not wake to keep a header nobody reads."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._config = config
        self._fixed: list[tuple[bytes, bytes]] = []
        self._second = -1
        self._headers: list[tuple[bytes, bytes]] = []
        super().__init__()

    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        now = time.time()
        second = int(now)
        if second != self._second:
            fixed = self._fixed or self._config.encoded_headers
            date = [(b"date", formatdate(now, usegmt=True).encode())] if self._config.date_header else []
            self._headers, self._second = date + fixed, second
        return self._headers

    @default_headers.setter
    def default_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        # uvicorn's tick writes its Date in as well: the one read above replaces it.
        self._fixed = [(name, value) for name, value in headers if name.lower() != b"date"]
        self._second = -1


class QuietServer(uvicorn.Server):
    """uvicorn's server without its 100 ms tick: an idle server sleeps until a signal asks it to
    exit, and each response's Date header is read when it is made (DatedState)."""

    _loop: asyncio.AbstractEventLoop | None = None
    _exit_asked: asyncio.Event | None = None

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.server_state = DatedState(config)

    async def main_loop(self) -> None:
        if self.config.limit_max_requests is not None or self.config.callback_notify is not None:
            await super().main_loop()  # options that need uvicorn's tick (none of ours set them)
            return
        self._exit_asked = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        # A signal that came before the event existed has set should_exit already.
        if not self.should_exit:
            await self._exit_asked.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._exit_asked is not None:
            self._loop.call_soon_threadsafe(self._exit_asked.set)


def _listener(host: str, port: int, backlog: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every response waits for a delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(backlog)
    return listener
