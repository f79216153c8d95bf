"""Timed HTTP calls to the gateway and the providers, each recorded under the public call's name."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# A gateway or provider server closes a connection idle for 5 s: drop it on this side first.
IDLE_SECONDS = 4.0

# Answers that say "nothing may have happened yet, ask again": injected 503s, ambiguous 500s,
# a gateway whose backend is restarting.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


def is_transient(status: int | None) -> bool:
    """`None` is a call that got no answer at all (refused or dropped connection, timeout)."""
    return status is None or status in TRANSIENT_STATUSES


@dataclass
class CallLog:
    """Latency of every call by name, and what went wrong with those that failed."""

    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def record(self, name: str, elapsed_ms: float, failure: str | None) -> None:
        self.latencies_ms[name].append(elapsed_ms)
        if failure:
            self.failures[name][failure] += 1


@dataclass
class Answer:
    status: int | None
    body: Any

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        return is_transient(self.status)

    def error_code(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("error") or self.body.get("message") or self.status)
        return str(self.status)


def http_session(connections: int = 100, timeout_seconds: float = 30.0) -> aiohttp.ClientSession:
    """One pooled session of keep-alive connections for everything a run sends.

    `timeout_seconds` bounds each phase (a free connection, connecting, each read), not a whole
    call: an event stream stays open as long as the gateway writes (it writes at least every 15 s).
    """
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=None, connect=timeout_seconds, sock_connect=timeout_seconds, sock_read=timeout_seconds
        ),
        connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0, keepalive_timeout=IDLE_SECONDS),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class TimedHttp:
    def __init__(self, client: aiohttp.ClientSession, log: CallLog) -> None:
        self.client = client
        self.log = log

    async def call(self, name: str, method: str, url: str, **kwargs: Any) -> Answer:
        started = time.perf_counter()
        try:
            async with self.client.request(method, url, **kwargs) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            self.log.record(name, (time.perf_counter() - started) * 1000, type(error).__name__)
            return Answer(None, None)
        elapsed = (time.perf_counter() - started) * 1000
        self.log.record(name, elapsed, None if status < 400 else str(status))
        try:
            body = json.loads(content)
        except ValueError:
            body = content.decode(errors="replace")
        return Answer(status, body)

    async def call_until_answered(
        self, name: str, method: str, url: str, attempts: int, pause: float = 0.2, **kwargs: Any
    ) -> Answer:
        """Retry while the answer is transient; the last answer otherwise."""
        answer = Answer(None, None)
        for attempt in range(attempts):
            answer = await self.call(name, method, url, **kwargs)
            if not answer.transient:
                return answer
            await asyncio.sleep(min(pause * (2**attempt), 2.0))
        return answer
