"""Request ids of creating calls (AIP-155): a retried create answers its first result, never creates twice.

A client makes one UUID per logical create and sends it again on each retry. The service keeps,
for 24 hours and in the same transaction as the created resource, which resource answered that
request id, scoped by the caller, with a fingerprint of the request: a retry with the same request
gets the first result back, one with a different request is refused as a client mistake.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from sqlalchemy import Column, DateTime, Index, LargeBinary, MetaData, String, Table, and_, bindparam, select

from kit.database import Connection
from kit.errors import FieldViolation, InvalidArgument
from kit.statements import Statement, insert_or_nothing

FIELD = "request_id"
# How refusals name the field: its JSON name, as the field rules and the other refusals do.
FIELD_NAME = "requestId"
KEPT_FOR = timedelta(hours=24)
# One record write in this many also deletes the expired records: the cleanup rides along in a
# transaction that writes anyway, with no timer, and costs one indexed range delete.
SWEEP_ONE_IN = 64


@dataclass(frozen=True)
class RequestKey:
    """One caller's request id and the fingerprint of the request it was sent with."""

    scope: str
    request_id: str
    fingerprint: str


@dataclass(frozen=True)
class FirstResult:
    """What the first call with a request id created, as recorded."""

    fingerprint: str
    resource_id: str
    response: bytes | None
    created_at: datetime


def parse_request_id(text: str, field: str = FIELD_NAME) -> str | None:
    """The canonical form of a request id, None when absent; anything but a UUID is refused."""
    if not text:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidArgument(FieldViolation(field, "must be a UUID")) from None


def fingerprint(*parts: str | bytes) -> str:
    """A digest of a request's meaningful parts, each length-prefixed so no two splits collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def message_fingerprint(message: Message, *extra: str) -> str:
    """The fingerprint of a request message without its request id (deterministic serialization)."""
    body = message.__class__()
    body.CopyFrom(message)
    body.ClearField(FIELD)
    return fingerprint(body.SerializeToString(deterministic=True), *extra)


def request_key(scope: str, message: Message, *extra: str) -> RequestKey | None:
    """The key of a create request, None when it carries no request id."""
    request_id = parse_request_id(getattr(message, FIELD))
    if request_id is None:
        return None
    return RequestKey(scope, request_id, message_fingerprint(message, *extra))


def replayed(found: FirstResult | None, key: RequestKey, now: datetime) -> FirstResult | None:
    """The first result to answer again; None when the request id is new (or expired).

    Raises when the request id came with a different request: the client reused an id by mistake,
    and answering the other request's result would be wrong.
    """
    if found is None or now - found.created_at >= KEPT_FOR:
        return None
    if found.fingerprint != key.fingerprint:
        raise InvalidArgument(
            FieldViolation(FIELD_NAME, "was already used for a different request; make a new one per request")
        )
    return found


def request_ids_table(metadata: MetaData, name: str = "request_ids") -> Table:
    """The table of a service's recent request ids, unique per (scope, request_id)."""
    return Table(
        name,
        metadata,
        Column("scope", String(254), primary_key=True),
        Column("request_id", String(36), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("resource_id", String(64), nullable=False),
        Column("response", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index(f"ix_{name}_created_at", "created_at"),
    )


def sweeps_along(request_id: str) -> bool:
    """Whether recording this request id also deletes the expired records."""
    # The low bits of a random UUID pick about one write in SWEEP_ONE_IN, with no state.
    return uuid.UUID(request_id).int % SWEEP_ONE_IN == 0


class RequestIds:
    """Reads and writes of one request_ids table, each inside the caller's own transaction."""

    def __init__(self, table: Table, sweep_along: Callable[[str], bool] = sweeps_along) -> None:
        self._sweep_along = sweep_along
        c = table.c
        key = and_(c.scope == bindparam("scope"), c.request_id == bindparam("request_id"))
        self._find = Statement(select(c.fingerprint, c.resource_id, c.response, c.created_at).where(key))
        self._insert = insert_or_nothing(table)
        self._reuse = Statement(
            table.update()
            .where(
                c.scope == bindparam("_scope"),
                c.request_id == bindparam("_request_id"),
                c.created_at <= bindparam("cutoff"),
            )
            .values(
                fingerprint=bindparam("fingerprint"),
                resource_id=bindparam("resource_id"),
                response=bindparam("response"),
                created_at=bindparam("created_at"),
            )
        )
        self._sweep = Statement(table.delete().where(c.created_at <= bindparam("cutoff")))

    def find(self, conn: Connection, key: RequestKey, now: datetime) -> FirstResult | None:
        """The first result of `key` to answer again (see `replayed`): one primary-key read."""
        row = conn.first(self._find, {"scope": key.scope, "request_id": key.request_id})
        found = None
        if row is not None:
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            found = FirstResult(row.fingerprint, row.resource_id, row.response, created)
        return replayed(found, key, now)

    def record(
        self,
        conn: Connection,
        key: RequestKey,
        resource_id: str,
        now: datetime,
        response: bytes | None = None,
    ) -> bool:
        """Record the result of `key`; False when a live record of it exists (a concurrent twin won)."""
        values = {
            "scope": key.scope,
            "request_id": key.request_id,
            "fingerprint": key.fingerprint,
            "resource_id": resource_id,
            "response": response,
            "created_at": now,
        }
        cutoff = now - KEPT_FOR
        if self._sweep_along(key.request_id):
            conn.execute(self._sweep, {"cutoff": cutoff})
        if conn.first(self._insert, values) is not None:
            return True
        # An expired record not yet swept is taken over; a live one belongs to the first call.
        where = {"_scope": key.scope, "_request_id": key.request_id, "cutoff": cutoff}
        return conn.execute(self._reuse, values | where) == 1

    def sweep(self, conn: Connection, now: datetime) -> int:
        """Delete every record older than KEPT_FOR; the number deleted."""
        return conn.execute(self._sweep, {"cutoff": now - KEPT_FOR})
