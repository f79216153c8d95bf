"""Webhook delivery from the outbox table: signed POSTs retried with capped exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import bindparam, select, update
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from kit.database import Database
from kit.statements import Statement
from kit.webhook_signature import HEADER, sign
from simulated_world.providers.store.tables import webhook_deliveries

log = logging.getLogger(__name__)
# Every path that commits a delivery wakes the dispatcher; this slow sweep is only a safety net.
_SAFETY_SWEEP_SECONDS = 60.0
# An idle connection is dropped before the receiver's server closes it (5 s keep-alive by default).
_IDLE_SECONDS = 4.0

_UNDELIVERED = Statement(
    select(
        webhook_deliveries.c.id,
        webhook_deliveries.c.url,
        webhook_deliveries.c.body,
        webhook_deliveries.c.due_at,
    ).where(webhook_deliveries.c.delivered_at.is_(None))
)
_ATTEMPT = webhook_deliveries.c.attempts + 1
_DELIVERED = Statement(
    update(webhook_deliveries)
    .where(webhook_deliveries.c.id == bindparam("_id"))
    .values(attempts=_ATTEMPT, delivered_at=bindparam("delivered_at"))
)
_FAILED = Statement(
    update(webhook_deliveries)
    .where(webhook_deliveries.c.id == bindparam("_id"))
    .values(attempts=_ATTEMPT, last_error=bindparam("last_error"), due_at=bindparam("due_at"))
)


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx; try again later."""


class WebhookDispatcher:
    """Delivers every undelivered outbox row until a 2xx; a restart resumes from the table."""

    def __init__(
        self,
        database: Database,
        secret: str,
        retry_base_seconds: float,
        retry_max_seconds: float,
        timeout_seconds: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._secret = secret
        self._base = retry_base_seconds
        self._max = retry_max_seconds
        self._timeout = timeout_seconds
        self._wall = wall
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # One session for every delivery: receivers are few, so their connections stay open between
        # webhooks. The timeout bounds each phase (pool, connect, each read), not the whole delivery.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self._timeout, sock_connect=self._timeout, sock_read=self._timeout
        )
        self._client = aiohttp.ClientSession(
            timeout=timeout,
            connector=aiohttp.TCPConnector(keepalive_timeout=_IDLE_SECONDS),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._loop = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._in_flight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.close()

    def wake(self) -> None:
        """New rows were committed: look now rather than at the next sweep."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._spawn_due()
            except Exception:
                log.exception("webhook dispatcher could not read the outbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _SAFETY_SWEEP_SECONDS)
            self._wake.clear()

    async def _spawn_due(self) -> None:
        pending = await self._database.read(lambda conn: conn.rows(_UNDELIVERED))
        for row in pending:
            if row.id not in self._in_flight:
                task = asyncio.create_task(self._deliver(row.id, row.url, row.body, row.due_at))
                self._in_flight[row.id] = task
                task.add_done_callback(self._forget(row.id))

    def _forget(self, delivery_id: int) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self._in_flight.pop(delivery_id, None)

        return forget

    async def _deliver(self, delivery_id: int, url: str, body: str, due_at: float) -> None:
        # The due time survives restarts (webhook delay chaos, or the backoff already earned).
        await asyncio.sleep(max(0.0, due_at - self._wall()))

        async def record_failure(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            pause = state.next_action.sleep if state.next_action else 0.0
            log.info("webhook %s to %s failed (%s); retrying in %.1f s", delivery_id, url, error, pause)
            await self._mark(delivery_id, error=str(error), due_at=self._wall() + pause)

        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self._base, max=self._max),
            retry=retry_if_exception_type(DeliveryFailed),
            before_sleep=record_failure,
        )
        async for attempt in retrying:
            with attempt:
                await self._post(url, body.encode())
        await self._mark(delivery_id, delivered=True)

    async def _post(self, url: str, body: bytes) -> None:
        assert self._client is not None
        headers = {"Content-Type": "application/json", HEADER: sign(self._secret, int(self._wall()), body)}
        try:
            async with self._client.post(url, data=body, headers=headers) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"receiver answered {status}")

    async def _mark(
        self,
        delivery_id: int,
        error: str | None = None,
        due_at: float | None = None,
        delivered: bool = False,
    ) -> None:
        values: dict[str, object]
        if delivered:
            statement, values = _DELIVERED, {"_id": delivery_id, "delivered_at": datetime.now(UTC)}
        else:
            statement, values = _FAILED, {"_id": delivery_id, "last_error": error, "due_at": due_at}
        await self._database.transaction(lambda conn: conn.execute(statement, values))
