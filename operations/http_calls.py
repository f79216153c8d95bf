"""Timed HTTP calls to the gateway and the providers, each recorded under the public call's name."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

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


class TimedHttp:
    def __init__(self, client: httpx.AsyncClient, log: CallLog) -> None:
        self.client = client
        self.log = log

    async def call(self, name: str, method: str, url: str, **kwargs: Any) -> Answer:
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.log.record(name, (time.perf_counter() - started) * 1000, type(error).__name__)
            return Answer(None, None)
        elapsed = (time.perf_counter() - started) * 1000
        self.log.record(name, elapsed, None if response.status_code < 400 else str(response.status_code))
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

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
