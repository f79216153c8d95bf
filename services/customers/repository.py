"""Customers table adapter (SQLAlchemy async)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.customers.domain import Customer
from services.kit.errors import AlreadyExists

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


def _to_customer(row: object) -> Customer:
    created = row.created_at  # type: ignore[attr-defined]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Customer(id=row.id, email=row.email, name=row.name, created_at=created)  # type: ignore[attr-defined]


class CustomerRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, customer: Customer, email_key: str, password_hash: str) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    customers.insert().values(
                        id=customer.id,
                        email_key=email_key,
                        email=customer.email,
                        name=customer.name,
                        password_hash=password_hash,
                        created_at=customer.created_at,
                    )
                )
        except IntegrityError:
            raise AlreadyExists("a customer with this email already exists") from None

    async def by_email_key(self, email_key: str) -> tuple[Customer, str] | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(customers).where(customers.c.email_key == email_key))).first()
        return None if row is None else (_to_customer(row), row.password_hash)

    async def by_id(self, customer_id: str) -> Customer | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(customers).where(customers.c.id == customer_id))).first()
        return None if row is None else _to_customer(row)

    async def replace_hash(self, customer_id: str, old_hash: str, new_hash: str) -> None:
        # Compare-and-set, so a concurrent login's rehash never overwrites a password change.
        async with self._engine.begin() as conn:
            await conn.execute(
                update(customers)
                .where(customers.c.id == customer_id, customers.c.password_hash == old_hash)
                .values(password_hash=new_hash)
            )
