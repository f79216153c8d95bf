"""Making an operator: register a customer with the admin role, or promote one who exists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kit.errors import AlreadyExists
from kit.tokens import ROLE_ADMIN
from services.customers.domain import Customer, normalize_email, validate_registration
from services.customers.passwords import PasswordHashing
from services.customers.repository import CustomerRepository


class AdminChange(StrEnum):
    CREATED = "created"
    PROMOTED = "promoted"
    ALREADY_ADMIN = "already_admin"


@dataclass(frozen=True)
class AdminOutcome:
    customer: Customer
    change: AdminChange


async def create_admin(
    repository: CustomerRepository,
    hashing: PasswordHashing,
    email: str,
    name: str,
    password: Callable[[], str],
    clock: Callable[[], datetime],
    new_id: Callable[[], str],
) -> AdminOutcome:
    """`password` is asked for only when the account is new: promoting keeps the customer's own."""
    found = await repository.by_email_key(normalize_email(email))
    if found is None:
        registration = validate_registration(email, name, password())
        customer = Customer(new_id(), registration.email, registration.name, clock())
        try:
            await repository.add(customer, registration.email_key, await hashing.hash(registration.password))
        except AlreadyExists:
            # Registered meanwhile through the API: promote that account instead.
            return await create_admin(repository, hashing, email, name, password, clock, new_id)
        await repository.grant(customer.id, ROLE_ADMIN)
        return AdminOutcome(customer, AdminChange.CREATED)
    customer, _ = found
    granted = await repository.grant(customer.id, ROLE_ADMIN)
    return AdminOutcome(customer, AdminChange.PROMOTED if granted else AdminChange.ALREADY_ADMIN)
