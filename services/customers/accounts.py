"""The customers use cases: register, log in, read oneself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.customers.domain import (
    Customer,
    normalize_email,
    validate_login,
    validate_registration,
)
from services.customers.passwords import PasswordHashing
from services.customers.repository import CustomerRepository
from services.kit.errors import NotFound, Unauthenticated
from services.kit.tokens import TokenIssuer


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class Accounts:
    def __init__(
        self,
        repository: CustomerRepository,
        hashing: PasswordHashing,
        issuer: TokenIssuer,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
    ) -> None:
        self._repository = repository
        self._hashing = hashing
        self._issuer = issuer
        self._clock = clock
        self._new_id = new_id
        self._dummy_hash: str | None = None

    async def register(self, email: str, name: str, password: str) -> Customer:
        registration = validate_registration(email, name, password)
        customer = Customer(
            id=self._new_id(),
            email=registration.email,
            name=registration.name,
            created_at=self._clock(),
        )
        password_hash = await self._hashing.hash(registration.password)
        await self._repository.add(customer, registration.email_key, password_hash)
        return customer

    async def login(self, email: str, password: str) -> IssuedToken:
        validate_login(email, password)
        found = await self._repository.by_email_key(normalize_email(email))
        if found is None:
            # Spend the same time as a real check, so response time does not reveal accounts.
            await self._hashing.verify(await self._dummy(), password)
            raise Unauthenticated("email or password is wrong")
        customer, stored_hash = found
        if not await self._hashing.verify(stored_hash, password):
            raise Unauthenticated("email or password is wrong")
        if self._hashing.needs_rehash(stored_hash):
            new_hash = await self._hashing.hash(password)
            await self._repository.replace_hash(customer.id, stored_hash, new_hash)
        now = int(self._clock().timestamp())
        token = self._issuer.issue(customer.id, now=now, token_id=self._new_id())
        return IssuedToken(access_token=token, expires_in=self._issuer.ttl_seconds)

    async def get(self, customer_id: str) -> Customer:
        customer = await self._repository.by_id(customer_id)
        if customer is None:
            raise NotFound("customer not found")
        return customer

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hashing.hash("not-a-real-password")
        return self._dummy_hash
