"""Transactions with Idempotency-Key: the key, request fingerprint and response commit with the effect."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.providers.clock import Clock
from services.providers.domain.errors import BusinessRefusal, IdempotencyKeyReused, NotFound
from services.providers.store.tables import idempotency
from services.providers.store.upsert import insert_if_absent

CREATE_HOLD = "POST /holds"
TOMBSTONE = "tombstone"


@dataclass(frozen=True)
class Outcome:
    """What an effect produced: HTTP status, JSON-able body, and the resource it created or touched."""

    status: int
    body: Any
    resource_id: str | None = None


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    replayed: bool = False


Effect = Callable[[AsyncConnection], Awaitable[Outcome]]


def encode(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


class Transactions:
    """Runs an effect in one transaction; with a key, replays the first success for the same request."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def run(self, key: str | None, operation: str, fingerprint: str, effect: Effect) -> StoredResponse:
        # Any ProviderError raised by the effect rolls the whole transaction back, claim included:
        # a refused request leaves nothing behind, and only successes are replayed.
        async with self._engine.begin() as conn:
            if key is None:
                outcome = await effect(conn)
                return StoredResponse(outcome.status, encode(outcome.body))
            claim = {
                "key": key,
                "operation": operation,
                "fingerprint": fingerprint,
                "tombstone": False,
                "created_at": self._clock.now(),
            }
            if not await insert_if_absent(conn, idempotency, claim):
                return await self._replay(conn, key, operation, fingerprint)
            outcome = await effect(conn)
            text = encode(outcome.body)
            await conn.execute(
                update(idempotency)
                .where(idempotency.c.key == key)
                .values(status_code=outcome.status, body=text, resource_id=outcome.resource_id)
            )
            return StoredResponse(outcome.status, text)

    async def _replay(
        self, conn: AsyncConnection, key: str, operation: str, fingerprint: str
    ) -> StoredResponse:
        row = (await conn.execute(select(idempotency).where(idempotency.c.key == key))).one()
        if row.tombstone and operation == CREATE_HOLD:
            raise BusinessRefusal(
                f"a cancel for Idempotency-Key {key!r} arrived first; this hold may not be created",
                "HOLD_CANCELLED",
            )
        if row.fingerprint != fingerprint or row.operation != operation:
            raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was already used with a different request")
        return StoredResponse(row.status_code, row.body, replayed=True)


async def hold_created_with(conn: AsyncConnection, key: str, clock: Clock) -> str | None:
    """The hold created with this pre-reserve key; if none yet, leave a tombstone and return None."""
    tombstone = {
        "key": key,
        "operation": CREATE_HOLD,
        "fingerprint": TOMBSTONE,
        "tombstone": True,
        "created_at": clock.now(),
    }
    if await insert_if_absent(conn, idempotency, tombstone):
        return None
    row = (await conn.execute(select(idempotency).where(idempotency.c.key == key))).one()
    if row.tombstone:
        return None
    if row.operation != CREATE_HOLD or row.resource_id is None:
        raise NotFound(f"Idempotency-Key {key!r} did not create a hold", "HOLD_NOT_FOUND")
    return str(row.resource_id)
