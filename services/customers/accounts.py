"""The customers use cases: register, log in, read oneself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kit.error_reasons import ErrorReason
from kit.errors import FieldViolation, InvalidArgument, NotFound, Unauthenticated
from kit.request_ids import FIELD_NAME, RequestKey, fingerprint, parse_request_id
from kit.tokens import TokenIssuer
from services.customers.attempt_limits import Action, AttemptLimits, Count, Counter, counters, refusal
from services.customers.domain import (
    Customer,
    normalize_email,
    validate_login,
    validate_registration,
)
from services.customers.passwords import PasswordHashing
from services.customers.repository import CustomerRepository


class AttemptCounter(Protocol):
    async def hit(self, counters: Sequence[Counter]) -> list[Count]: ...


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
        attempts: AttemptCounter,
        limits: AttemptLimits,
    ) -> None:
        self._repository = repository
        self._hashing = hashing
        self._issuer = issuer
        self._clock = clock
        self._new_id = new_id
        self._attempts = attempts
        self._limits = limits
        self._dummy_hash: str | None = None

    async def register(
        self, email: str, name: str, password: str, client_address: str, request_id: str = ""
    ) -> Customer:
        """Register a customer; a retry with the first call's request id answers that customer."""
        parsed = parse_request_id(request_id)
        registration = validate_registration(email, name, password)
        # Scoped by the email: the account is the only caller a registration has. The password is
        # checked against the stored hash instead of being fingerprinted (a bare digest of it would
        # be a weak password hash).
        request = None
        if parsed is not None:
            body = fingerprint(registration.email_key, registration.name)
            request = RequestKey(registration.email_key, parsed, body)
        await self._admit(Action.REGISTER, registration.email_key, client_address)
        customer = Customer(
            id=self._new_id(),
            email=registration.email,
            name=registration.name,
            created_at=self._clock(),
        )
        password_hash = await self._hashing.hash(registration.password)
        first = await self._repository.add(customer, registration.email_key, password_hash, request)
        if first is None:
            return customer
        registered, stored_hash = first
        if not await self._hashing.verify(stored_hash, registration.password):
            raise InvalidArgument(FieldViolation(FIELD_NAME, "was already used for a different request"))
        return registered

    async def login(self, email: str, password: str, client_address: str) -> IssuedToken:
        validate_login(email, password)
        await self._admit(Action.LOGIN, normalize_email(email), client_address)
        found = await self._repository.by_email_key(normalize_email(email))
        if found is None:
            # Spend the same time as a real check, so response time does not reveal accounts.
            await self._hashing.verify(await self._dummy(), password)
            raise Unauthenticated("email or password is wrong", reason=ErrorReason.CREDENTIALS_INVALID)
        customer, stored_hash = found
        if not await self._hashing.verify(stored_hash, password):
            raise Unauthenticated("email or password is wrong", reason=ErrorReason.CREDENTIALS_INVALID)
        if self._hashing.needs_rehash(stored_hash):
            new_hash = await self._hashing.hash(password)
            await self._repository.replace_hash(customer.id, stored_hash, new_hash)
        now = int(self._clock().timestamp())
        roles = await self._repository.roles_of(customer.id)
        token = self._issuer.issue(customer.id, now=now, token_id=self._new_id(), roles=roles)
        return IssuedToken(access_token=token, expires_in=self._issuer.ttl_seconds)

    async def get(self, customer_id: str) -> Customer:
        customer = await self._repository.by_id(customer_id)
        if customer is None:
            raise NotFound("customer not found", reason=ErrorReason.CUSTOMER_NOT_FOUND)
        return customer

    async def find_by_email(self, email: str) -> Customer:
        found = await self._repository.by_email_key(normalize_email(email))
        if found is None:
            raise NotFound(
                f"no customer has the email {email.strip()}", reason=ErrorReason.CUSTOMER_NOT_FOUND
            )
        return found[0]

    async def _admit(self, action: Action, email_key: str, client_address: str) -> None:
        """Count the attempt against its email and its address; refuse it over either limit."""
        counts = await self._attempts.hit(counters(action, email_key, client_address, self._limits))
        refused = refusal(action, counts)
        if refused is not None:
            raise refused

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hashing.hash("not-a-real-password")
        return self._dummy_hash
