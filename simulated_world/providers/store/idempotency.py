"""Transactions with Idempotency-Key: the key, request fingerprint and response commit with the effect."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from kit.database import Connection, Database
from kit.statements import Statement
from simulated_world.providers.clock import Clock
from simulated_world.providers.domain.errors import IdempotencyKeyReused, RequestRefused, ResourceNotFound
from simulated_world.providers.store.tables import idempotency
from simulated_world.providers.store.upsert import insert_if_absent

CREATE_HOLD = "POST /holds"
TOMBSTONE = "tombstone"


@dataclass(frozen=True)
class EffectOutcome:
    """What an effect produced: HTTP status, JSON-able body, and the resource it created or touched."""

    status: int
    body: Any
    resource_id: str | None = None


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    replayed: bool = False


Effect = Callable[[Connection], EffectOutcome]

_RECORD = Statement(select(idempotency).where(idempotency.c.key == bindparam("key")))
_STORE = Statement(
    update(idempotency)
    .where(idempotency.c.key == bindparam("key"))
    .values(
        status_code=bindparam("status_code"), body=bindparam("body"), resource_id=bindparam("resource_id")
    )
)


def encode(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


class Transactions:
    """Runs an effect in one transaction; with a key, replays the first success for the same request."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def run(self, key: str | None, operation: str, fingerprint: str, effect: Effect) -> StoredResponse:
        # Any ProviderError raised by the effect rolls the whole transaction back, claim included:
        # a refused request leaves nothing behind, and only successes are replayed.
        return await self._database.transaction(
            lambda conn: self._run(conn, key, operation, fingerprint, effect)
        )

    def _run(
        self, conn: Connection, key: str | None, operation: str, fingerprint: str, effect: Effect
    ) -> StoredResponse:
        if key is None:
            outcome = effect(conn)
            return StoredResponse(outcome.status, encode(outcome.body))
        claim = {
            "key": key,
            "operation": operation,
            "fingerprint": fingerprint,
            "tombstone": False,
            "created_at": self._clock.now(),
        }
        if not insert_if_absent(conn, idempotency, claim):
            return _replay(conn, key, operation, fingerprint)
        outcome = effect(conn)
        text = encode(outcome.body)
        stored = {"key": key, "status_code": outcome.status, "body": text, "resource_id": outcome.resource_id}
        conn.execute(_STORE, stored)
        return StoredResponse(outcome.status, text)


def _replay(conn: Connection, key: str, operation: str, fingerprint: str) -> StoredResponse:
    row = conn.first(_RECORD, {"key": key})
    assert row is not None, "a claimed key has its row"
    if row.tombstone and operation == CREATE_HOLD:
        raise RequestRefused(
            f"a cancel for Idempotency-Key {key!r} arrived first; this hold may not be created",
            "HOLD_CANCELLED",
        )
    if row.fingerprint != fingerprint or row.operation != operation:
        raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was already used with a different request")
    return StoredResponse(row.status_code, row.body, replayed=True)


def hold_created_with(conn: Connection, key: str, clock: Clock) -> str | None:
    """The hold created with this pre-reserve key; if none yet, leave a tombstone and return None."""
    tombstone = {
        "key": key,
        "operation": CREATE_HOLD,
        "fingerprint": TOMBSTONE,
        "tombstone": True,
        "created_at": clock.now(),
    }
    if insert_if_absent(conn, idempotency, tombstone):
        return None
    row = conn.first(_RECORD, {"key": key})
    if row is None or row.tombstone:
        return None
    if row.operation != CREATE_HOLD or row.resource_id is None:
        raise ResourceNotFound(f"Idempotency-Key {key!r} did not create a hold", "HOLD_NOT_FOUND")
    return str(row.resource_id)
