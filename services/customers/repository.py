"""Customers table adapter: one transaction per method on the service's database."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Column, DateTime, ForeignKey, MetaData, String, Table, bindparam, select, update

from kit.database import Connection, Database
from kit.error_reasons import ErrorReason
from kit.errors import AlreadyExists
from kit.request_ids import RequestIds, RequestKey, request_ids_table
from kit.statements import Statement, insert_or_nothing
from services.customers.domain import Customer

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email_key", String(254), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("name", String(100), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A table of its own rather than a column: a customer may hold several roles.
customer_roles = Table(
    "customer_roles",
    metadata,
    Column("customer_id", String(36), ForeignKey("customers.id"), primary_key=True),
    Column("role", String(40), primary_key=True),
)

# Recent Register request ids, scoped by the email registered (there is no caller yet).
request_ids = request_ids_table(metadata)

_REQUEST_IDS = RequestIds(request_ids)
_ADD = insert_or_nothing(customers)
_BY_EMAIL_KEY = Statement(select(customers).where(customers.c.email_key == bindparam("email_key")))
_BY_ID = Statement(select(customers).where(customers.c.id == bindparam("id")))
_GRANT = insert_or_nothing(customer_roles)
_ROLES_OF = Statement(
    select(customer_roles.c.role).where(customer_roles.c.customer_id == bindparam("customer_id"))
)
# Compare-and-set, so a concurrent login's rehash never overwrites a password change.
_REPLACE_HASH = Statement(
    update(customers)
    .where(customers.c.id == bindparam("id"), customers.c.password_hash == bindparam("old_hash"))
    .values(password_hash=bindparam("new_hash"))
)


def _to_customer(row: object) -> Customer:
    created = row.created_at  # type: ignore[attr-defined]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Customer(id=row.id, email=row.email, name=row.name, created_at=created)  # type: ignore[attr-defined]


class CustomerRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(
        self, customer: Customer, email_key: str, password_hash: str, request: RequestKey | None = None
    ) -> tuple[Customer, str] | None:
        """Insert the customer, recording `request` in the same transaction; None when inserted.

        When the email exists and `request` made it (within 24 hours), that customer and their
        password hash come back instead; otherwise AlreadyExists.
        """
        row = {
            "id": customer.id,
            "email_key": email_key,
            "email": customer.email,
            "name": customer.name,
            "password_hash": password_hash,
            "created_at": customer.created_at,
        }

        def add(conn: Connection) -> tuple[Customer, str] | None:
            if conn.first(_ADD, row) is not None:
                if request is not None:
                    _REQUEST_IDS.record(conn, request, customer.id, customer.created_at)
                return None
            first = None if request is None else _REQUEST_IDS.find(conn, request, customer.created_at)
            existing = None if first is None else conn.first(_BY_ID, {"id": first.resource_id})
            if existing is None:
                taken = "a customer with this email already exists"
                raise AlreadyExists(taken, reason=ErrorReason.EMAIL_TAKEN)
            return _to_customer(existing), existing.password_hash

        return await self._database.transaction(add)

    async def by_email_key(self, email_key: str) -> tuple[Customer, str] | None:
        row = await self._database.read(lambda conn: conn.first(_BY_EMAIL_KEY, {"email_key": email_key}))
        return None if row is None else (_to_customer(row), row.password_hash)

    async def by_id(self, customer_id: str) -> Customer | None:
        row = await self._database.read(lambda conn: conn.first(_BY_ID, {"id": customer_id}))
        return None if row is None else _to_customer(row)

    async def replace_hash(self, customer_id: str, old_hash: str, new_hash: str) -> None:
        params = {"id": customer_id, "old_hash": old_hash, "new_hash": new_hash}
        await self._database.transaction(lambda conn: conn.execute(_REPLACE_HASH, params))

    async def roles_of(self, customer_id: str) -> frozenset[str]:
        rows = await self._database.read(lambda conn: conn.rows(_ROLES_OF, {"customer_id": customer_id}))
        return frozenset(row.role for row in rows)

    async def grant(self, customer_id: str, role: str) -> bool:
        """Give the customer a role; False when they had it already."""
        params = {"customer_id": customer_id, "role": role}
        return bool(await self._database.transaction(lambda conn: conn.first(_GRANT, params) is not None))
